package erw.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code erw} command line. */
@Command(name = "erw", mixinStandardHelpOptions = true, version = "erw 0.1.0",
        description = "Train diffusion transformers with Embedded Representation Warmup, and sample from them.",
        subcommands = {CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}

package erw.cli;

import erw.engine.EngineException;
import erw.model.io.SafeTensorsException;
import erw.training.TrainingException;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code erw} command line. Bad input ends in one clear line on stderr and exit code 2. */
@Command(name = "erw", mixinStandardHelpOptions = true, version = "erw 0.1.0",
        description = "Train diffusion transformers with Embedded Representation Warmup, and sample from them.",
        subcommands = {TrainCommand.class, erw.sampler.cli.SampleCommand.class, ForwardCommand.class, ModelCommand.class,
                BenchCommand.class, EvalCommand.class, DataCommand.class, EncoderCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        erw.sampler.cli.SampleCommand.oneLineErrors(cl, System.err);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (isUserError(ex)) {
                cmd.getErr().println("erw " + cmd.getCommandName() + ": " + ex.getMessage());
                return 2;
            }
            throw ex;
        });
        return cl;
    }

    /** Errors that are about the user's input or data, not about erw: shown as one line. */
    static boolean isUserError(Throwable ex) {
        return ex instanceof IllegalArgumentException || ex instanceof EngineException || ex instanceof SafeTensorsException
                || ex instanceof TrainingException || ex instanceof UncheckedIOException || ex instanceof java.nio.file.NoSuchFileException;
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}

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
        int rc;
        try {
            rc = commandLine().execute(args);
        } catch (OutOfMemoryError e) {
            System.err.println(outOfMemory(Runtime.getRuntime().maxMemory()));
            rc = 3;
        }
        System.exit(rc);
    }

    /** The one line an out-of-memory ends with: the heap limit and what to change. */
    static String outOfMemory(long maxHeap) {
        return String.format(java.util.Locale.ROOT, "erw: out of memory: the JVM's heap limit is %.1f GiB; `erw model` prints what a training step plans to use "
                + "(--model, --batch, --recompute); raise the limit with ERW_JAVA_OPTS=-Xmx<size> or lower --batch, or train with --recompute blocks", maxHeap / (double) (1L << 30));
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

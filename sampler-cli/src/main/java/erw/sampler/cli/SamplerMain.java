package erw.sampler.cli;

import erw.sampler.*;

/**
 * Sampler-only mode: {@code java -p <engine, model, sampler, picocli, jackson jars> -m erw.sampler/erw.sampler.SamplerMain
 * --checkpoint FILE ...} runs {@link SampleCommand} without the training module.
 */
public final class SamplerMain {
    private SamplerMain() {}

    public static void main(String[] args) {
        System.exit(SampleCommand.commandLine(new SampleCommand()).execute(args));
    }
}

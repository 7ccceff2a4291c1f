package erw.cli;

import erw.training.Recipes;
import erw.training.TrainConfig;
import erw.training.run.RunDirectory;
import erw.training.run.TrainingRun;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code erw train}: ERW (or REPA / SiT) training. With no arguments it runs the main job
 * ({@link Recipes#mainJob()}): the Fashion-MNIST dataset (imported from Debian's package), its target
 * encoder (trained by erw) and features, then ERW on the tiny SiT. The run itself is
 * {@link TrainingRun}; this class only turns options into its arguments.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train a SiT with ERW (warmup + full phase), REPA or plain SiT.")
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--method", description = "erw | repa | reed | sit (default ${DEFAULT-VALUE}).")
    String method = "erw";
    @Option(names = "--data", description = "Dataset directory (erw data ...). Default: Fashion-MNIST prepared under --data-root.")
    Path data;
    @Option(names = "--data-root", description = "Where the default Fashion-MNIST dataset and encoder are kept (default ${DEFAULT-VALUE}).")
    Path dataRoot = Path.of("data");
    @Option(names = "--out", description = "Run directory (default: runs/<method>-<time>).")
    Path out;
    @Option(names = "--resume", description = "Continue a run bit-exactly from its newest checkpoint (a run directory or a checkpoint file).")
    Path resume;
    @Option(names = "--model", description = "tiny (default: the Fashion-MNIST SiT) or SiT-S/2 ... SiT-XL/8.")
    String model = "tiny";
    @Option(names = "--depth") Integer depth;
    @Option(names = "--hidden") Integer hidden;
    @Option(names = "--heads") Integer heads;
    @Option(names = "--patch") Integer patch;
    @Option(names = "--encoder-depth", description = "Block (1-based) the projector reads in the full phase.") Integer encoderDepth;
    @Option(names = "--projector-dim") Integer projectorDim;
    @Option(names = "--qk-norm", description = "QK-norm in attention (off by default).") boolean qkNorm;
    @Mixin RecipeOptions recipe;
    @Option(names = "--seed", description = "Seed of initialization, data order and noise (default 0).") Long seed;
    @Option(names = "--checkpoint-every", description = "Steps between checkpoints (0 = only at the end).") Long checkpointEvery;
    @Option(names = "--log-every", description = "Steps between metrics.jsonl lines.") Long logEvery;
    @Option(names = "--sample-every", description = "Steps between EMA sample grids (0 = only at the end).") Long sampleEvery;
    @Option(names = "--sample-steps", description = "SDE steps for the sample grids (default 50).") Integer sampleSteps;
    @Option(names = "--keep-last", description = "Keep only the newest N checkpoints of the run (default 0 = keep all).") int keepLast;
    @Option(names = "--recompute", description = "none | blocks: replay each block's forward in backward instead of keeping its activations "
            + "(bit-identical; less memory, about a third more compute; default ${DEFAULT-VALUE}).") String recompute = "none";
    @Mixin EngineOptions engine;

    @Spec CommandSpec spec;

    /** What a resume may change: the length of the run, its cadence and how it runs; nothing that changes the math so far. */
    static final List<String> RESUMABLE = List.of("--resume", "--steps", "--checkpoint-every", "--log-every", "--sample-every", "--sample-steps",
            "--keep-last", "--threads", "--backend", "--data", "--data-root", "--recompute");

    @Override
    public Integer call() throws Exception {
        try (erw.training.Collective ranks = Launch.collective()) {
            try {
                return call(new TrainingRun.Settings(engine.choice(), engine.threads(), keepLast, System.err, ranks, erw.training.Recompute.parse(recompute)));
            } catch (erw.training.TrainingException e) {
                // a failure every rank sees at the same step (losses and gradients are reduced): rank 0 reports it, all end normally
                if (ranks.rank() == 0) throw e;
                return 2;
            } catch (RuntimeException e) {
                // this rank alone (its data, its disk): end the whole job at once, naming the rank, so that no rank waits forever
                if (ranks.size() > 1) ranks.abort(e.getMessage(), 2);
                throw e;
            }
        }
    }

    private Integer call(TrainingRun.Settings settings) throws Exception {
        if (resume == null) {
            TrainConfig.Builder b = (data == null ? Recipes.mainJob() : TrainConfig.defaults()).toBuilder();
            b.method = method;
            recipe.applyTo(b);
            cadence(b);
            if (seed != null) b.seed = seed;
            TrainConfig cfg = b.build();
            if (data == null) cfg = Recipes.forBuiltIn(cfg);
            TrainingRun.fresh(resolvedWarmup(cfg), new Recipes.ModelChoice(model, depth, hidden, heads, patch, encoderDepth, projectorDim, qkNorm),
                    data == null ? TrainingRun.Data.builtIn(dataRoot) : TrainingRun.Data.directory(data), out, settings);
            return 0;
        }
        List<String> fixed = new ArrayList<>();
        for (var o : spec.commandLine().getParseResult().matchedOptions()) if (!RESUMABLE.contains(o.longestName())) fixed.add(o.longestName());
        if (!fixed.isEmpty()) {
            Path runDir = java.nio.file.Files.isDirectory(resume) ? resume : resume.toAbsolutePath().getParent();
            throw new IllegalArgumentException(String.join(", ", fixed) + (fixed.size() > 1 ? " are" : " is") + " fixed by the run being resumed (see "
                    + runDir.resolve(RunDirectory.CONFIG) + "); a resume may change only " + String.join(", ", RESUMABLE.subList(1, RESUMABLE.size())));
        }
        TrainingRun.Data given = data != null ? TrainingRun.Data.directory(data)
                : spec.commandLine().getParseResult().hasMatchedOption("--data-root") ? TrainingRun.Data.builtIn(dataRoot) : null;
        TrainingRun.resume(resume, b -> {
            if (recipe.steps != null) b.steps = recipe.steps;
            cadence(b);
        }, given, settings);
        return 0;
    }

    /**
     * ERW's warmup and REED's schedule lengths written out (not "10% / an eighth of the steps"), so
     * that a resume may change --steps without moving the phase boundary or the curriculum.
     */
    private static TrainConfig resolvedWarmup(TrainConfig cfg) {
        return cfg.with(b -> {
            if (cfg.method() == erw.training.Method.ERW) b.warmupSteps = cfg.warmup();
            if (cfg.method() == erw.training.Method.REED) {
                b.alignSteps = cfg.alignSteps();
                b.diffusionWarmupSteps = cfg.diffusionWarmup();
            }
        });
    }

    private void cadence(TrainConfig.Builder b) {
        if (checkpointEvery != null) b.checkpointEvery = checkpointEvery;
        if (logEvery != null) b.logEvery = logEvery;
        if (sampleEvery != null) b.sampleEvery = sampleEvery;
        if (sampleSteps != null) b.sampleSteps = sampleSteps;
    }
}

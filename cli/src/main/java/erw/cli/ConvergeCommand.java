package erw.cli;

import erw.training.eval.EvalSetup;
import erw.model.SiTConfig;
import erw.training.TrainConfig;
import erw.training.eval.ConvergenceBenchmark;
import erw.training.eval.ConvergenceReport;
import erw.training.eval.SampleQuality;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import erw.training.Recipes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code erw bench converge}: the small-scale reproduction of ERW vs REPA vs SiT on the built-in
 * data: same model, batch, step budget and seeds; FD and accuracy vs steps; table and plot.
 */
@Command(name = "converge", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train sit, repa, erw (and reed) on the same budget and seeds; FD/accuracy vs steps as CSV, Markdown and PNG.")
final class ConvergeCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Option(names = "--preset", description = "quick (~1 h on 2 cores) | full (several hours) (default ${DEFAULT-VALUE}).") String preset = "quick";
    @Option(names = "--methods", split = ",", description = "Methods to compare: sit, repa, erw, reed (default ${DEFAULT-VALUE}).") List<String> methods = new ArrayList<>(List.of("sit", "repa", "erw", "reed"));
    @Option(names = "--arm", description = "An ablation arm (repeat): NAME=OPTIONS, e.g. \"warmup-120=--warmup-steps 120\" or \"enc-4=--encoder-depth 4\": "
            + "trained like the methods (ERW unless OPTIONS has --method) with OPTIONS over this command's settings (not --steps or --batch: the budget is the study's); "
            + "its rows are labelled NAME and paired with ERW by seed.") List<String> arms = new ArrayList<>();
    @Option(names = "--merge", description = "Keep the points of other methods already in --out's results.csv (add a method to an existing table).") boolean merge;
    @Option(names = "--resume", description = "Continue an interrupted study: the points in --out's results.csv are kept, finished runs are skipped, "
            + "the others resume from their last checkpoint under --work whose points are all scored (same bits as an uninterrupted study).") boolean resume;
    @Option(names = "--seeds", split = ",", description = "Training seeds (default: the preset's; quick 0,1,2, full 0-4).") List<Long> seeds;
    @Option(names = "--curves", description = "How many of the seeds, first first, are scored at every evaluation step, the others at the end only "
            + "(default: the preset's; quick 1, full all).") Integer curves;
    @Option(names = "--eval-every", description = "Steps between scorings (default: the preset's).") Long evalEvery;
    @Option(names = "--samples", description = "Samples per scoring (default: the preset's).") Integer samples;
    @Option(names = "--encoder-depth", description = "Block the projector reads (default 2).") Integer encoderDepth;
    @Option(names = "--out", description = "Where results.csv/.md and fd_vs_steps.png go (default: docs/convergence/<preset>).") Path out;
    @Option(names = "--work", description = "Run directories (default: runs/converge-<preset>).") Path work;
    @Option(names = "--data-root", description = "Built-in data, encoder and evaluator (default ${DEFAULT-VALUE}).") Path dataRoot = Path.of("data");
    @Option(names = "--replot", description = "Only rewrite results.md's tables and the plots from the results.csv under --out (the header and footer kept).") boolean replot;
    @Mixin RecipeOptions recipe;
    @Mixin EngineOptions engine;

    @Override
    public Integer call() throws Exception {
        ConvergenceBenchmark.Preset p = ConvergenceBenchmark.Preset.named(preset);
        p = new ConvergenceBenchmark.Preset(p.name(), recipe.batch != null ? recipe.batch : p.batch(), recipe.steps != null ? recipe.steps : p.steps(),
                evalEvery != null ? evalEvery : p.evalEvery(), samples != null ? samples : p.samples(), p.sampler(), p.samplerSteps(),
                seeds != null ? List.copyOf(seeds) : p.seeds(),
                curves != null ? curves : Math.min(p.curves(), seeds != null ? seeds.size() : p.seeds().size()));
        for (String m : methods) erw.training.Method.parse(m);
        List<ArmSpec> armSpecs = new ArrayList<>();
        for (String a : arms) armSpecs.add(ArmSpec.parse(a, methods, armSpecs));
        List<String> labels = new ArrayList<>(methods);
        armSpecs.forEach(a -> labels.add(a.label()));
        Path outDir = out != null ? out : Path.of("docs", "convergence", p.name());
        if (replot) {
            List<ConvergenceBenchmark.Point> pts = ConvergenceReport.readCsv(outDir.resolve("results.csv"));
            List<String> ms = pts.stream().map(ConvergenceBenchmark.Point::method).distinct().toList();
            java.nio.file.Path md = outDir.resolve("results.md");
            if (java.nio.file.Files.isRegularFile(md)) {
                // the tables again from results.csv (after a change to the report), under the command's own header and footer
                String[] hf = ConvergenceReport.headerAndFooter(java.nio.file.Files.readString(md));
                ConvergenceReport.write(outDir, pts, ms, hf[0], hf[1]);
                System.out.println("wrote " + md + " and the plots");
            } else {
                ConvergenceReport.plot(outDir, pts, ms);
                System.out.println("wrote the plots under " + outDir);
            }
            return 0;
        }
        Path workDir = work != null ? work : Path.of("runs", "converge-" + p.name());
        TrainConfig base = Recipes.mainJob().with(b -> {
            recipe.applyTo(b);
            b.logEvery = 1_000_000;
        });
        long t0 = System.nanoTime();
        erw.engine.Backends.Choice choice = engine.choice();
        int nThreads = engine.threads();
        try (erw.engine.Backend cpu = choice.create(nThreads)) {
            erw.engine.host.WorkerPool pool = cpu.host();
            EvalSetup setup = EvalSetup.prepare(dataRoot, null, cpu, System.err);
            boolean reed = methods.stream().anyMatch(x -> x.equalsIgnoreCase("reed")) || armSpecs.stream().anyMatch(a -> a.options().method.equalsIgnoreCase("reed"));
            erw.training.BatchSource data = reed ? erw.training.data.BuiltInData.prepare(dataRoot, 0, List.of(erw.training.BatchSource.FEATURES, erw.training.data.BuiltInData.AUTOENCODER), System.err) : setup.data();
            Recipes.ModelChoice choiceOfModel = new Recipes.ModelChoice("tiny", null, null, null, null, encoderDepth, null, false);
            SiTConfig m = choiceOfModel.forData(data);
            ConvergenceBenchmark b = new ConvergenceBenchmark(p, cfg -> choiceOfModel.forRun(data, cfg), base, () -> data, new SampleQuality(setup.judges()), cpu, pool, System.err);
            List<ConvergenceBenchmark.Arm> columns = new ArrayList<>();
            for (String mth : methods) columns.add(ConvergenceBenchmark.Arm.of(mth));
            for (ArmSpec a : armSpecs) columns.add(a.arm(data));
            List<ConvergenceBenchmark.Point> points = new ArrayList<>(), done = new ArrayList<>();
            List<String> shown = new ArrayList<>(labels);
            if ((merge || resume) && java.nio.file.Files.isRegularFile(outDir.resolve("results.csv"))) {
                for (ConvergenceBenchmark.Point pt : ConvergenceReport.readCsv(outDir.resolve("results.csv"))) {
                    if (!labels.contains(pt.method())) {
                        points.add(pt);
                        if (!shown.contains(pt.method())) shown.add(shown.size() - labels.size(), pt.method());
                    } else if (resume) {
                        done.add(pt);
                    }
                }
            }
            String header = String.format(Locale.ROOT,
                    "# Convergence: %s (preset %s)%n%nCommand: `./erw %s`%n%nModel: tiny SiT (depth %d, hidden %d, patch %d, projector at block %d) on Fashion-MNIST 32x32; "
                            + "batch %d, %d steps per run (ERW warmup %d inside the budget, %d blocks), lr %.0e, EMA %.3f, %s alignment; seeds %s.%n"
                            + "Scores: EMA weights, %d class-balanced samples (%s, %d steps, no guidance); FD on the features of the %s "
                            + "(not the alignment target: another architecture and seed) against the %s. %s",
                    String.join(" vs ", shown).toUpperCase(Locale.ROOT), p.name(), commandLine(), m.depth(), m.hiddenSize(), m.patchSize(), m.encoderDepth(),
                    p.batch(), p.steps(), b.config("erw", p.seeds().get(0)).warmup(), base.l2rDepth(), base.lr(), base.emaDecay(), base.align().id(), p.seeds(), p.samples(),
                    p.sampler().name().toLowerCase(Locale.ROOT), p.samplerSteps(), setup.evaluator().describe() + " [1]; a second evaluator [2], the "
                            + setup.judges().get(1).name() + ", also scores every point", setup.referenceName(),
                    p.curves() == p.seeds().size() ? "Every seed is scored at every evaluation step."
                            : String.format(Locale.ROOT, "Seeds %s are scored at every evaluation step, the others at the end.", p.seeds().subList(0, p.curves())))
                    + (armSpecs.isEmpty() ? "" : String.format("%n%nAblation arms (ERW unless named; each over the settings above, paired with ERW by seed): %s.",
                    String.join("; ", armSpecs.stream().map(a -> a.label() + " = `" + a.text() + "`").toList())))
                    + (shown.size() > labels.size() ? String.format("%n%nThis command trained %s; the rows of %s are merged (--merge) from the earlier results.csv of this preset, "
                    + "made with the same model, data, budget, seeds and scoring.", String.join(", ", labels), String.join(", ", shown.subList(0, shown.size() - labels.size()))) : "");
            final List<String> table = shown;
            b.runArms(columns, workDir, done, pt -> {
                points.add(pt);
                ConvergenceReport.write(outDir, points, table, header, ""); // partial results survive an interrupted run
            });
            String footer = String.format(Locale.ROOT, "%nTotal wall time %.1f min on %d threads, %s backend.%n", (System.nanoTime() - t0) / 6e10, nThreads, choice.name());
            ConvergenceReport.write(outDir, points, table, header, footer);
            System.out.println(java.nio.file.Files.readString(outDir.resolve("results.md")));
            System.out.println("wrote " + outDir.resolve("results.csv") + ", results.md, fd_vs_steps.png");
        }
        return 0;
    }

    /** The options an arm may set: the recipe's, the method, and the block the projector reads. */
    @Command(name = "arm")
    static final class ArmOptions {
        @Mixin RecipeOptions recipe = new RecipeOptions();
        @Option(names = "--method") String method = "erw";
        @Option(names = "--encoder-depth") Integer encoderDepth;
    }

    /** One --arm: its label, its text and its parsed options. */
    record ArmSpec(String label, String text, ArmOptions options) {
        static ArmSpec parse(String spec, List<String> methods, List<ArmSpec> before) {
            int eq = spec.indexOf('=');
            String label = eq < 0 ? "" : spec.substring(0, eq).trim(), text = eq < 0 ? "" : spec.substring(eq + 1).trim();
            if (!label.matches("[A-Za-z0-9._-]+")) throw new IllegalArgumentException("--arm " + spec + ": use NAME=OPTIONS with a NAME of letters, digits, '.', '_' or '-'");
            if (methods.contains(label) || java.util.Arrays.stream(erw.training.Method.values()).anyMatch(m -> m.id().equals(label.toLowerCase(Locale.ROOT))) || before.stream().anyMatch(a -> a.label().equals(label))) {
                throw new IllegalArgumentException("--arm " + spec + ": the name " + label + " is taken (a method or another arm)");
            }
            ArmOptions o = new ArmOptions();
            try {
                new picocli.CommandLine(o).parseArgs(text.isEmpty() ? new String[0] : text.split("\\s+"));
            } catch (picocli.CommandLine.ParameterException e) {
                throw new IllegalArgumentException("--arm " + spec + ": " + e.getMessage());
            }
            try {
                erw.training.Method.parse(o.method);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--arm " + spec + ": " + e.getMessage());
            }
            if (o.recipe.steps != null || o.recipe.batch != null) throw new IllegalArgumentException("--arm " + spec + ": an arm cannot change --steps or --batch (the study's budget)");
            return new ArmSpec(label, text, o);
        }

        ConvergenceBenchmark.Arm arm(erw.training.BatchSource data) {
            Recipes.ModelChoice mc = new Recipes.ModelChoice("tiny", null, null, null, null, options.encoderDepth, null, false);
            return new ConvergenceBenchmark.Arm(label, options.method.toLowerCase(Locale.ROOT), options.recipe::applyTo,
                    options.encoderDepth == null ? null : cfg -> mc.forRun(data, cfg));
        }
    }

    private String commandLine() {
        return String.join(" ", spec.commandLine().getParseResult().originalArgs());
    }
}

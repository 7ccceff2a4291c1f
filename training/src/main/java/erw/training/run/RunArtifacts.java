package erw.training.run;

import erw.engine.Backend;
import erw.model.SiT;
import erw.training.PhaseProgram;
import erw.training.RunLogger;
import erw.training.TrainConfig;
import erw.training.Trainer;
import erw.training.report.LossPlot;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a run leaves beside its checkpoints: {@code loss.png} (loss curves, redrawn at every
 * checkpoint) and {@code samples-XXXXXXX.png} grids of EMA samples (one row per class) at sample
 * intervals and at the end. Forwards every event to the {@link RunLogger}.
 */
public final class RunArtifacts implements Trainer.Listener, AutoCloseable {
    private final Path runDir;
    private final RunDirectory dir;
    private final int keepLast;
    private final RunLogger log;
    private final TrainConfig cfg;
    private final int numClasses;
    private final Backend backend;
    private final PrintStream err;

    public RunArtifacts(RunDirectory dir, int keepLast, RunLogger log, TrainConfig cfg, int numClasses, Backend backend, PrintStream err) {
        this.dir = dir;
        this.runDir = dir.path();
        this.keepLast = keepLast;
        this.backend = backend;
        this.log = log;
        this.cfg = cfg;
        this.numClasses = numClasses;
        this.err = err;
    }

    @Override
    public void onStep(Trainer.StepLog s) {
        log.onStep(s);
    }

    @Override
    public void onTransition(List<String> copied, List<String> fresh) {
        log.onTransition(copied, fresh);
    }

    @Override
    public void onCheckpoint(Path file, long step) {
        log.onCheckpoint(file, step);
        dir.pruneCheckpoints(keepLast);
        plotLosses();
    }

    @Override
    public void onSample(long step, PhaseProgram program) {
        writeSamples(step, program);
    }

    /** Final artifacts: the loss plot and a sample grid from the final EMA weights. */
    public void finish(Trainer trainer) {
        plotLosses();
        if (trainer.program().phase == erw.training.Phase.FULL && (cfg.sampleEvery() == 0 || trainer.step() % cfg.sampleEvery() != 0)) writeSamples(trainer.step(), trainer.program());
    }

    public void plotLosses() {
        List<double[]> h = log.history();
        if (h.isEmpty()) return;
        Map<String, double[][]> series = new LinkedHashMap<>();
        String[] names = {"loss", "loss_v", "loss_align"};
        for (int k = 0; k < names.length; k++) {
            double[] xs = new double[h.size()], ys = new double[h.size()];
            for (int i = 0; i < h.size(); i++) {
                xs[i] = h.get(i)[0];
                ys[i] = h.get(i)[k + 1];
            }
            series.put(names[k], new double[][]{xs, ys});
        }
        // REED: each target's term, and the curriculum's weights (w_diff, w_align: between 0 and 1, on the same axis)
        log.series().forEach((name, pts) -> {
            double[] xs = new double[pts.size()], ys = new double[pts.size()];
            for (int i = 0; i < pts.size(); i++) {
                xs[i] = pts.get(i)[0];
                ys[i] = pts.get(i)[1];
            }
            series.put(name, new double[][]{xs, ys});
        });
        Path file = runDir.resolve("loss.png");
        LossPlot.writePng(file, "erw train: method " + cfg.method().id() + (cfg.method() == erw.training.Method.SIT ? "" : ", " + cfg.align().id() + " alignment"), "step", "loss", series, false);
    }

    public void writeSamples(long step, PhaseProgram program) {
        program.syncToHost();
        SiT ema = program.emaModel();
        Path file = runDir.resolve(String.format("samples-%07d.png", step));
        SampleGrids.write(backend, ema, file, numClasses, 8, cfg.sampleSteps(), cfg.sampleCfg(), cfg.seed());
        err.println("\nsamples " + file);
    }

    @Override
    public void close() {
        log.close();
    }
}

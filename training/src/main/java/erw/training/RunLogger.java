package erw.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The run's record: a one-line progress bar on stderr (phase, step, loss terms, lambda, grad norm,
 * img/s, ETA), {@code metrics.jsonl} (one line per logged step, appended so a resumed run continues
 * the file) and the loss history for plots.
 */
public final class RunLogger implements Trainer.Listener, AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path runDir;
    private final long totalSteps, logEvery;
    private final PrintStream out;
    private BufferedWriter metrics;
    private final List<double[]> history = new ArrayList<>(); // step, loss, loss_v, loss_align, lambda, grad_norm
    /** Further logged series by metric name (w_diff, w_align, loss_align.<set>): {step, value} points. */
    private final java.util.Map<String, List<double[]>> series = new java.util.LinkedHashMap<>();
    private double emaRate = 0;
    private long lastTransitionStep = -1;

    public RunLogger(Path runDir, long totalSteps, long logEvery, PrintStream out) {
        this.runDir = runDir;
        this.totalSteps = totalSteps;
        this.logEvery = logEvery;
        this.out = out;
        try {
            Files.createDirectories(runDir);
            Path file = runDir.resolve("metrics.jsonl");
            if (Files.exists(file)) {
                for (String line : Files.readAllLines(file)) {
                    var n = JSON.readTree(line);
                    history.add(new double[]{n.path("step").asDouble(), n.path("loss").asDouble(Double.NaN), n.path("loss_v").asDouble(Double.NaN),
                            n.path("loss_align").asDouble(Double.NaN), n.path("lambda").asDouble(), n.path("grad_norm").asDouble()});
                    for (var it = n.fields(); it.hasNext(); ) {
                        var f = it.next();
                        if (isSeries(f.getKey())) point(f.getKey(), n.path("step").asDouble(), f.getValue().asDouble());
                    }
                }
            }
            this.metrics = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write metrics in " + runDir + ": " + e.getMessage(), e);
        }
    }

    /**
     * A resume from the checkpoint of {@code step}: the lines logged after it (by the run that
     * stopped later) are dropped, so the resumed steps are not in the file twice.
     */
    public void resumedAt(long step) {
        Path file = runDir.resolve("metrics.jsonl");
        try {
            metrics.close();
            List<String> kept = new ArrayList<>();
            for (String line : Files.readAllLines(file)) if (JSON.readTree(line).path("step").asLong() <= step) kept.add(line);
            Path tmp = runDir.resolve("metrics.jsonl.tmp");
            Files.write(tmp, kept, StandardCharsets.UTF_8);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            history.removeIf(h -> h[0] > step);
            for (List<double[]> l : series.values()) l.removeIf(h -> h[0] > step);
            metrics = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot rewrite " + file + " for the resume at step " + step + ": " + e.getMessage(), e);
        }
    }

    /** Logged points: {step, loss, loss_v, loss_align, lambda, grad_norm}. */
    public List<double[]> history() {
        return history;
    }

    /** REED's weights and each target's term as logged: name to {step, value} points. */
    public java.util.Map<String, List<double[]>> series() {
        return series;
    }

    private static boolean isSeries(String key) {
        return key.equals("w_diff") || key.equals("w_align") || key.startsWith("loss_align.");
    }

    private void point(String name, double step, double v) {
        series.computeIfAbsent(name, k -> new ArrayList<>()).add(new double[]{step, v});
    }

    @Override
    public void onStep(Trainer.StepLog s) {
        emaRate = emaRate == 0 ? s.imgPerSec() : 0.9 * emaRate + 0.1 * s.imgPerSec();
        double secsPerStep = s.seconds();
        long left = totalSteps - s.step();
        String eta = formatDuration(left * secsPerStep);
        String line = String.format(Locale.ROOT, "\rphase %d | step %d/%d | loss %.4f | v %s | align %s | lambda %.3g | grad %.3f | %.1f img/s | ETA %s   ",
                s.phase().number(), s.step(), totalSteps, s.loss(), fmt(s.lossV()), fmt(s.lossAlign()), s.lambda(), s.gradNorm(), emaRate, eta);
        out.print(line);
        if (s.step() % logEvery == 0 || s.step() == totalSteps || s.step() == 1) {
            out.println();
            ObjectNode o = JSON.createObjectNode();
            o.put("step", s.step()).put("phase", s.phase().number()).put("loss", s.loss());
            if (!Double.isNaN(s.lossV())) o.put("loss_v", s.lossV());
            if (!Double.isNaN(s.lossAlign())) o.put("loss_align", s.lossAlign());
            o.put("lambda", s.lambda());
            if (!Double.isNaN(s.wDiff())) o.put("w_diff", s.wDiff());
            if (!Double.isNaN(s.wAlign())) o.put("w_align", s.wAlign());
            s.alignTerms().forEach(o::put);
            o.put("grad_norm", s.gradNorm()).put("img_per_s", s.imgPerSec()).put("time", System.currentTimeMillis() / 1000.0);
            history.add(new double[]{s.step(), s.loss(), s.lossV(), s.lossAlign(), s.lambda(), s.gradNorm()});
            for (var it = o.fields(); it.hasNext(); ) {
                var f = it.next();
                if (isSeries(f.getKey())) point(f.getKey(), s.step(), f.getValue().asDouble());
            }
            try {
                metrics.write(o.toString());
                metrics.newLine();
                metrics.flush();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot append to " + runDir.resolve("metrics.jsonl"), e);
            }
        }
    }

    @Override
    public void onTransition(List<String> copied, List<String> fresh) {
        out.println();
        out.printf("transition to phase 2: copied %d tensors from the warmup model (%s ... %s), %d freshly initialized%n",
                copied.size(), copied.get(0), copied.get(copied.size() - 1), fresh.size());
        lastTransitionStep = history.isEmpty() ? 0 : (long) history.get(history.size() - 1)[0];
    }

    @Override
    public void onCheckpoint(Path file, long step) {
        out.println();
        out.println("checkpoint " + file);
    }

    public long transitionStep() {
        return lastTransitionStep;
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.4f", v);
    }

    static String formatDuration(double secs) {
        if (!Double.isFinite(secs)) return "?";
        long s = Math.round(secs);
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, (s % 3600) / 60) : String.format("%dm%02ds", s / 60, s % 60);
    }

    @Override
    public void close() {
        try {
            metrics.close();
        } catch (IOException ignored) {
            // nothing left to flush
        }
    }
}

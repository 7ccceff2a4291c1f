package erw.sampler;

import java.io.PrintStream;
import java.util.Locale;

/** A one-line progress bar ({@code \r}-updated) with steps/s and the time left; at most ten redraws a second. */
public final class ProgressBar implements Sampler.Listener {
    private static final int WIDTH = 30;
    private final PrintStream out;
    private final String label;
    private final long total;
    private final String unit;
    private final long start = System.nanoTime();
    private long offset, done, lastDraw, drawn = -1;
    private boolean finished;

    /** {@code total}: steps over all batches. */
    public ProgressBar(PrintStream out, String label, long total) {
        this(out, label, total, "steps");
    }

    /** Counting {@code unit}s (e.g. "images") instead of steps. */
    public ProgressBar(PrintStream out, String label, long total, String unit) {
        this.out = out;
        this.label = label;
        this.total = Math.max(1, total);
        this.unit = unit;
    }

    /** Moves on to the next batch: the steps reported from now on count after those already done. */
    public void nextBatch() {
        offset = done;
    }

    @Override
    public void step(int stepDone, int stepsInBatch) {
        done = offset + stepDone;
        long now = System.nanoTime();
        if (done < total && now - lastDraw < 100_000_000L) return;
        lastDraw = now;
        draw(now);
    }

    private void draw(long now) {
        drawn = done;
        double sec = (now - start) * 1e-9;
        double rate = sec > 0 ? done / sec : 0;
        int filled = (int) (WIDTH * done / total);
        String bar = "=".repeat(filled) + (filled < WIDTH ? ">" + " ".repeat(WIDTH - filled - 1) : "");
        double eta = rate > 0 ? (total - done) / rate : 0;
        out.print(String.format(Locale.ROOT, "\r%s [%s] %d/%d %s  %.2f %s/s  %s", label, bar, done, total, unit, rate, unit,
                done < total ? String.format(Locale.ROOT, "eta %.0fs ", eta) : String.format(Locale.ROOT, "%.1fs    ", sec)));
        out.flush();
    }

    /** Draws the final state and ends the line. */
    public void finish() {
        if (finished) return;
        finished = true;
        if (drawn != done) draw(System.nanoTime());
        out.println();
    }
}

package erw.training.eval;

import erw.training.report.LossPlot;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * The convergence benchmark's outputs: {@code results.csv} (every scored point),
 * {@code results.md} (FD per step: the first seed's, or the mean over the seeds scored at every step; then the final step's mean and
 * standard deviation over seeds) and {@code fd_vs_steps.png}.
 */
public final class ConvergenceReport {
    private ConvergenceReport() {}

    public static void write(Path dir, List<ConvergenceBenchmark.Point> points, List<String> methods, String header, String footer) {
        try {
            Files.createDirectories(dir);
            atomicWrite(dir.resolve("results.csv"), csv(points));
            atomicWrite(dir.resolve("results.md"), markdown(points, methods, header) + footer);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the convergence report under " + dir, e);
        }
        plot(dir, points, methods);
    }

    /**
     * fd_vs_steps.png (the first evaluator) and, where scored, fd2_vs_steps.png (the second): one line per
     * method through the mean over the seeds with a curve (or the first seed's points when only it has
     * one); linear axes, so every tick is labelled.
     */
    public static void plot(Path dir, List<ConvergenceBenchmark.Point> points, List<String> methods) {
        List<Long> seeds = curveSeeds(points);
        String which = seeds.size() == 1 ? "seed " + seeds.get(0) : "mean over seeds " + seeds;
        for (int e = 0; e < 2; e++) {
            java.util.function.ToDoubleFunction<ConvergenceBenchmark.Point> fd = fdOn(e);
            if (e == 1 && !scoredBySecond(points)) break;
            Map<String, double[][]> series = new LinkedHashMap<>();
            for (String m : methods) {
                java.util.TreeMap<Long, List<Double>> bySteps = meanCurve(points, m, seeds, fd);
                double[] xs = bySteps.keySet().stream().mapToDouble(Long::doubleValue).toArray();
                double[] ys = bySteps.values().stream().mapToDouble(v -> meanStd(v)[0]).toArray();
                series.put(m.toUpperCase(Locale.ROOT), new double[][]{xs, ys});
            }
            LossPlot.writePng(dir.resolve(e == 0 ? "fd_vs_steps.png" : "fd2_vs_steps.png"), "FD vs training steps, evaluator [" + (e + 1) + "] (" + which + ")", "step",
                    "FD (evaluator features, lower is better)", series, false);
        }
    }

    /** A point's FD on evaluator [1] (0) or [2] (1). */
    private static java.util.function.ToDoubleFunction<ConvergenceBenchmark.Point> fdOn(int evaluator) {
        return evaluator == 0 ? ConvergenceBenchmark.Point::fd : p -> p.extra().fd2();
    }

    /** Whether any point has the second evaluator's FD (results written before it have none). */
    private static boolean scoredBySecond(List<ConvergenceBenchmark.Point> points) {
        return points.stream().anyMatch(p -> !Double.isNaN(p.extra().fd2()));
    }

    /** The seeds scored at more than one step (the first seed too when none is), in order of appearance. */
    static List<Long> curveSeeds(List<ConvergenceBenchmark.Point> points) {
        Map<Long, java.util.Set<Long>> steps = new LinkedHashMap<>();
        for (ConvergenceBenchmark.Point p : points) steps.computeIfAbsent(p.seed(), k -> new java.util.HashSet<>()).add(p.step());
        List<Long> out = steps.entrySet().stream().filter(x -> x.getValue().size() > 1).map(Map.Entry::getKey).toList();
        return out.isEmpty() && !steps.isEmpty() ? List.of(steps.keySet().iterator().next()) : out;
    }

    /** A method's measured values (NaN left out) per step, over the given seeds. */
    private static java.util.TreeMap<Long, List<Double>> meanCurve(List<ConvergenceBenchmark.Point> points, String method, List<Long> seeds,
                                                                java.util.function.ToDoubleFunction<ConvergenceBenchmark.Point> fd) {
        java.util.TreeMap<Long, List<Double>> bySteps = new java.util.TreeMap<>();
        for (ConvergenceBenchmark.Point p : points) {
            if (!p.method().equals(method) || !seeds.contains(p.seed()) || Double.isNaN(fd.applyAsDouble(p))) continue;
            bySteps.computeIfAbsent(p.step(), k -> new ArrayList<>()).add(fd.applyAsDouble(p));
        }
        return bySteps;
    }

    /**
     * A results.md's header (the title, command and settings: everything before the first table's
     * caption) and footer (its last "Total wall time" line, or ""), so that its tables can be rewritten.
     */
    public static String[] headerAndFooter(String md) {
        int h = md.length();
        for (String caption : List.of("\nFD (lower is better)", "\nFD on evaluator [1]", "\n(no points)")) {
            int i = md.indexOf(caption);
            if (i >= 0) h = Math.min(h, i);
        }
        String header = md.substring(0, h).stripTrailing();
        int f = md.lastIndexOf("\nTotal wall time ");
        return new String[] {header, f >= 0 && f >= h ? md.substring(f) : ""};
    }

    /** Reads a results.csv written by {@link #write}. */
    public static List<ConvergenceBenchmark.Point> readCsv(Path file) {
        try {
            List<String> lines = Files.readAllLines(file);
            if (lines.isEmpty() || !lines.get(0).startsWith("method,seed,step,fd")) throw new IllegalArgumentException(file + ": not a convergence results.csv");
            List<ConvergenceBenchmark.Point> out = new ArrayList<>();
            for (String l : lines.subList(1, lines.size())) {
                if (l.isBlank()) continue;
                String[] f = l.split(",", -1);
                ConvergenceBenchmark.Extra extra = f.length >= 13
                        ? new ConvergenceBenchmark.Extra(num(f[7]), num(f[8]), num(f[9]), num(f[10]), num(f[11]), num(f[12]))
                        : ConvergenceBenchmark.Extra.NONE; // written before the second evaluator
                out.add(new ConvergenceBenchmark.Point(f[0], Long.parseLong(f[1]), Long.parseLong(f[2]), Double.parseDouble(f[3]), Double.parseDouble(f[4]),
                        Integer.parseInt(f[5]), Double.parseDouble(f[6]), extra));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    private static double num(String v) {
        return v.isBlank() ? Double.NaN : Double.parseDouble(v);
    }

    private static String cell(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.5f", v);
    }

    static String csv(List<ConvergenceBenchmark.Point> points) {
        StringBuilder sb = new StringBuilder("method,seed,step,fd,accuracy,samples,train_seconds,fd2,accuracy2,precision1,recall1,precision2,recall2\n");
        for (ConvergenceBenchmark.Point p : points) {
            ConvergenceBenchmark.Extra e = p.extra();
            sb.append(String.format(Locale.ROOT, "%s,%d,%d,%.5f,%.5f,%d,%.1f,%s,%s,%s,%s,%s,%s%n", p.method(), p.seed(), p.step(), p.fd(), p.accuracy(), p.samples(),
                    p.trainSeconds(), cell(e.fd2()), cell(e.accuracy2()), cell(e.precision1()), cell(e.recall1()), cell(e.precision2()), cell(e.recall2())));
        }
        return sb.toString();
    }

    /** Mean ± std of the values that were measured (NaN: not measured), or "-" when none was. */
    private static String meanStdText(List<Double> v, double scale, String format) {
        List<Double> known = v.stream().filter(x -> !Double.isNaN(x)).map(x -> x * scale).toList();
        if (known.isEmpty()) return "-";
        double[] a = meanStd(known);
        return String.format(Locale.ROOT, format + " ± " + format, a[0], a[1]);
    }

    /** Mean and sample standard deviation (0 for a single value). */
    static double[] meanStd(List<Double> v) {
        double m = v.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        double ss = 0;
        for (double x : v) ss += (x - m) * (x - m);
        return new double[]{m, v.size() > 1 ? Math.sqrt(ss / (v.size() - 1)) : 0};
    }

    static String markdown(List<ConvergenceBenchmark.Point> points, List<String> methods, String header) {
        StringBuilder sb = new StringBuilder(header).append("\n\n");
        if (points.isEmpty()) return sb.append("(no points)\n").toString();
        long first = points.get(0).seed();
        TreeSet<Long> steps = new TreeSet<>();
        points.forEach(p -> steps.add(p.step()));
        List<Long> curveSeeds = curveSeeds(points);
        if (curveSeeds.size() > 1) {
            for (int e = 0; e < 2; e++) {
                java.util.function.ToDoubleFunction<ConvergenceBenchmark.Point> fd = fdOn(e);
                if (e == 1 && !scoredBySecond(points)) break;
                sb.append(String.format(Locale.ROOT, "%sFD on evaluator [%d] (lower is better), mean ± std over the seeds scored at that step (of %s; n: how many):%n%n| step |",
                        e == 0 ? "" : "\n", e + 1, curveSeeds));
                for (String m : methods) sb.append(' ').append(m.toUpperCase(Locale.ROOT)).append(" | n |");
                sb.append("\n|---:|").append("---:|---:|".repeat(methods.size())).append('\n');
                Map<String, java.util.TreeMap<Long, List<Double>>> curves = new LinkedHashMap<>();
                for (String m : methods) curves.put(m, meanCurve(points, m, curveSeeds, fd));
                for (long s : steps) {
                    sb.append("| ").append(s).append(" |");
                    for (String m : methods) {
                        List<Double> v = curves.get(m).get(s);
                        sb.append(v == null ? " - | 0 |" : " " + meanStdText(v, 1, "%.3f") + " | " + v.size() + " |");
                    }
                    sb.append('\n');
                }
            }
        } else {
            steps.clear();
            points.stream().filter(p -> p.seed() == first).forEach(p -> steps.add(p.step()));
            sb.append("FD (lower is better) / evaluator accuracy on class-conditional samples, seed ").append(first).append(":\n\n| step |");
            for (String m : methods) sb.append(' ').append(m.toUpperCase(Locale.ROOT)).append(" FD | ").append(m.toUpperCase(Locale.ROOT)).append(" acc |");
            sb.append("\n|---:|");
            sb.append("---:|---:|".repeat(methods.size())).append('\n');
            for (long s : steps) {
                sb.append("| ").append(s).append(" |");
                for (String m : methods) {
                    ConvergenceBenchmark.Point p = points.stream().filter(q -> q.seed() == first && q.step() == s && q.method().equals(m)).findFirst().orElse(null);
                    sb.append(p == null ? " - | - |" : String.format(Locale.ROOT, " %.3f | %.1f%% |", p.fd(), 100 * p.accuracy()));
                }
                sb.append('\n');
            }
        }
        long last = steps.last();
        sb.append("\nFinal step ").append(last).append(", mean ± std over seeds:\n\n| method | seeds | FD | accuracy |\n|---|---:|---:|---:|\n");
        for (String m : methods) {
            List<ConvergenceBenchmark.Point> f = points.stream().filter(p -> p.step() == last && p.method().equals(m)).toList();
            List<Double> fd = new ArrayList<>(), acc = new ArrayList<>();
            f.forEach(p -> {
                fd.add(p.fd());
                acc.add(100 * p.accuracy());
            });
            if (f.isEmpty()) { // not scored at the final step yet (a study in progress)
                sb.append(String.format(Locale.ROOT, "| %s | 0 | - | - |%n", m.toUpperCase(Locale.ROOT)));
                continue;
            }
            double[] a = meanStd(fd), b = meanStd(acc);
            sb.append(String.format(Locale.ROOT, "| %s | %d | %.3f ± %.3f | %.1f%% ± %.1f |%n", m.toUpperCase(Locale.ROOT), f.size(), a[0], a[1], b[0], b[1]));
        }
        sb.append(stepsToReach(points, methods, first)); // the first seed's; with several curves the paired table below has it per seed
        sb.append(pairedBySeed(points, methods));
        if (points.stream().anyMatch(p -> !Double.isNaN(p.extra().fd2()) || !Double.isNaN(p.extra().precision1()))) {
            sb.append("\nBoth evaluators at the final step ([1] the MLP, [2] the convolutional one; precision/recall: Kynkaenniemi et al., k = 3), "
                    + "mean ± std over the seeds measured:\n\n| method | FD [1] | FD [2] | accuracy [2] | precision [1] | recall [1] | precision [2] | recall [2] |\n"
                    + "|---|---:|---:|---:|---:|---:|---:|---:|\n");
            for (String m : methods) {
                List<ConvergenceBenchmark.Point> f = points.stream().filter(p -> p.step() == last && p.method().equals(m)).toList();
                sb.append("| ").append(m.toUpperCase(Locale.ROOT)).append(" | ")
                        .append(meanStdText(f.stream().map(ConvergenceBenchmark.Point::fd).toList(), 1, "%.3f")).append(" | ")
                        .append(meanStdText(f.stream().map(p -> p.extra().fd2()).toList(), 1, "%.3f")).append(" | ")
                        .append(meanStdText(f.stream().map(p -> p.extra().accuracy2()).toList(), 100, "%.1f")).append(" | ")
                        .append(meanStdText(f.stream().map(p -> p.extra().precision1()).toList(), 1, "%.3f")).append(" | ")
                        .append(meanStdText(f.stream().map(p -> p.extra().recall1()).toList(), 1, "%.3f")).append(" | ")
                        .append(meanStdText(f.stream().map(p -> p.extra().precision2()).toList(), 1, "%.3f")).append(" | ")
                        .append(meanStdText(f.stream().map(p -> p.extra().recall2()).toList(), 1, "%.3f")).append(" |\n");
            }
        }
        return sb.toString();
    }

    /**
     * The papers' headline: training steps (ERW's warmup included) until the first seed's FD curve reaches a
     * fixed FD, on each evaluator, with every method's ratio to ERW's. The target is the highest final FD
     * among the methods (the level every one of them reaches); the step is interpolated linearly between
     * scored points. Empty when the curves are too short.
     */
    static String stepsToReach(List<ConvergenceBenchmark.Point> points, List<String> methods, long seed) {
        StringBuilder sb = new StringBuilder();
        for (int e = 0; e < 2; e++) {
            java.util.function.ToDoubleFunction<ConvergenceBenchmark.Point> fd = fdOn(e);
            Map<String, List<ConvergenceBenchmark.Point>> curves = new LinkedHashMap<>();
            double target = Double.NEGATIVE_INFINITY;
            for (String m : methods) {
                List<ConvergenceBenchmark.Point> c = points.stream().filter(p -> p.seed() == seed && p.method().equals(m) && !Double.isNaN(fd.applyAsDouble(p)))
                        .sorted(java.util.Comparator.comparingLong(ConvergenceBenchmark.Point::step)).toList();
                if (c.size() < 2) return sb.toString();
                curves.put(m, c);
                target = Math.max(target, fd.applyAsDouble(c.get(c.size() - 1)));
            }
            Map<String, Double> steps = new LinkedHashMap<>();
            for (var entry : curves.entrySet()) steps.put(entry.getKey(), firstStepAtOrBelow(entry.getValue(), fd, target));
            Double erw = steps.get("erw");
            sb.append(String.format(Locale.ROOT, "%nSteps until seed %d's FD on evaluator [%d] reaches %.3f (the highest final FD of the methods; linear between scored points)%s:%n%n"
                    + "| method | steps | ratio to ERW |%n|---|---:|---:|%n", seed, e + 1, target, erw == null ? "" : "; ERW's warmup steps count"));
            for (var entry : steps.entrySet()) {
                double st = entry.getValue();
                sb.append(String.format(Locale.ROOT, "| %s | %.0f | %s |%n", entry.getKey().toUpperCase(Locale.ROOT), st,
                        erw == null ? "-" : String.format(Locale.ROOT, "%.2f", st / erw)));
            }
        }
        return sb.toString();
    }

    /** Bootstrap resamples of the seeds, and the resampling's own seed (so a report is reproducible). */
    static final int RESAMPLES = 10_000;
    private static final long BOOTSTRAP_SEED = 20261201L;

    /**
     * Every method against ERW, paired by seed (runs of one seed share data order and noise), on each
     * evaluator: the mean over seeds of the final FD difference (method - ERW; positive: ERW better) and of
     * the ratio of steps until a fixed FD (method / ERW; above 1: ERW faster), each with a 95% percentile
     * bootstrap interval over the seeds, and on how many seeds ERW is ahead. The fixed FD is the highest
     * final FD among the methods' means over seeds, so that every mean curve reaches it; a seed whose
     * curve never reaches it counts its last step (at least that many); seeds scored only at the end have
     * no curve and count for the FD difference only. Empty without ERW or without two shared seeds.
     */
    public static String pairedBySeed(List<ConvergenceBenchmark.Point> points, List<String> methods) {
        if (!methods.contains("erw")) return "";
        long last = points.stream().mapToLong(ConvergenceBenchmark.Point::step).max().orElse(0);
        StringBuilder sb = new StringBuilder();
        for (int e = 0; e < 2; e++) {
            java.util.function.ToDoubleFunction<ConvergenceBenchmark.Point> fd = fdOn(e);
            // curves.get(method).get(seed): that run's scored points in step order
            Map<String, Map<Long, List<ConvergenceBenchmark.Point>>> curves = new LinkedHashMap<>();
            for (String m : methods) {
                Map<Long, List<ConvergenceBenchmark.Point>> bySeed = new java.util.TreeMap<>();
                points.stream().filter(p -> p.method().equals(m) && !Double.isNaN(fd.applyAsDouble(p)))
                        .sorted(java.util.Comparator.comparingLong(ConvergenceBenchmark.Point::step))
                        .forEach(p -> bySeed.computeIfAbsent(p.seed(), k -> new ArrayList<>()).add(p));
                bySeed.values().removeIf(c -> c.get(c.size() - 1).step() != last);
                curves.put(m, bySeed);
            }
            double target = Double.NEGATIVE_INFINITY;
            for (var c : curves.values()) {
                if (c.isEmpty()) continue;
                target = Math.max(target, c.values().stream().mapToDouble(l -> fd.applyAsDouble(l.get(l.size() - 1))).average().orElseThrow());
            }
            Map<Long, List<ConvergenceBenchmark.Point>> erw = curves.get("erw");
            StringBuilder rows = new StringBuilder();
            for (String m : methods) {
                if (m.equals("erw")) continue;
                List<Long> seeds = curves.get(m).keySet().stream().filter(erw::containsKey).toList();
                if (seeds.size() < 2) continue;
                double[] diff = new double[seeds.size()];
                List<Double> ratios = new ArrayList<>();
                int ahead = 0, faster = 0;
                for (int i = 0; i < seeds.size(); i++) {
                    List<ConvergenceBenchmark.Point> a = curves.get(m).get(seeds.get(i)), b = erw.get(seeds.get(i));
                    diff[i] = fd.applyAsDouble(a.get(a.size() - 1)) - fd.applyAsDouble(b.get(b.size() - 1));
                    if (diff[i] > 0) ahead++;
                    if (a.size() < 2 || b.size() < 2) continue; // scored at the end only: no curve to cross the target
                    double ratio = firstStepAtOrBelow(a, fd, target) / firstStepAtOrBelow(b, fd, target);
                    ratios.add(ratio);
                    if (ratio > 1) faster++;
                }
                double[] d = pairedBootstrap(diff, RESAMPLES, BOOTSTRAP_SEED);
                String steps = ratios.size() < 2 ? String.format(Locale.ROOT, "- (%d curves) | - |", ratios.size()) : ratioCells(ratios, faster);
                rows.append(String.format(Locale.ROOT, "| %s | %d | %+.3f [%+.3f, %+.3f] | %d of %d | %s%n",
                        m.toUpperCase(Locale.ROOT), seeds.size(), d[0], d[1], d[2], ahead, seeds.size(), steps));
            }
            if (rows.isEmpty()) continue;
            sb.append(String.format(Locale.ROOT, "%nPaired by seed against ERW on evaluator [%d], mean over seeds [95%% bootstrap interval, %d resamples of the seeds]: "
                    + "final FD difference (method - ERW; > 0: ERW lower) and steps until FD %.3f (the highest of the methods' mean final FDs; ERW's warmup steps count) "
                    + "as a ratio (method / ERW; > 1: ERW there first):%n%n| method | seeds | FD difference | ERW lower | steps ratio | ERW first |%n|---|---:|---:|---:|---:|---:|%n",
                    e + 1, RESAMPLES, target)).append(rows);
        }
        return sb.toString();
    }

    private static String ratioCells(List<Double> ratios, int faster) {
        double[] r = pairedBootstrap(ratios.stream().mapToDouble(Double::doubleValue).toArray(), RESAMPLES, BOOTSTRAP_SEED);
        return String.format(Locale.ROOT, "%.2f [%.2f, %.2f] | %d of %d |", r[0], r[1], r[2], faster, ratios.size());
    }

    /**
     * The mean of {@code v} and the 2.5th and 97.5th percentiles of the means of {@code resamples} samples of
     * {@code v} drawn with replacement (seeded), as {mean, low, high}.
     */
    static double[] pairedBootstrap(double[] v, int resamples, long seed) {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        int n = v.length;
        double mean = java.util.Arrays.stream(v).average().orElse(Double.NaN);
        double[] means = new double[resamples];
        for (int b = 0; b < resamples; b++) {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += v[rnd.nextInt(n)];
            means[b] = sum / n;
        }
        java.util.Arrays.sort(means);
        return new double[] {mean, means[(int) Math.floor(0.025 * (resamples - 1))], means[(int) Math.ceil(0.975 * (resamples - 1))]};
    }

    /** The first step at which the curve is at or below {@code target}, interpolated between points. */
    static double firstStepAtOrBelow(List<ConvergenceBenchmark.Point> c, java.util.function.ToDoubleFunction<ConvergenceBenchmark.Point> fd, double target) {
        if (fd.applyAsDouble(c.get(0)) <= target) return c.get(0).step();
        for (int i = 1; i < c.size(); i++) {
            double a = fd.applyAsDouble(c.get(i - 1)), b = fd.applyAsDouble(c.get(i));
            if (b <= target) {
                double f = a == b ? 1 : (a - target) / (a - b);
                return c.get(i - 1).step() + f * (c.get(i).step() - c.get(i - 1).step());
            }
        }
        return c.get(c.size() - 1).step(); // the target is the highest final FD, so every curve ends at or below it
    }

    private static void atomicWrite(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}

package erw.training.report;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.XYStyler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** Loss curves as a PNG line chart (XChart), headless. */
public final class LossPlot {
    public static final int WIDTH = 900, HEIGHT = 500;

    static {
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    }

    private LossPlot() {}

    /**
     * Writes a {@value #WIDTH}x{@value #HEIGHT} line chart with a legend, one line per entry of
     * {@code series} (in the map's iteration order: pass a {@code LinkedHashMap} to fix it), atomically
     * (a temporary file, then a rename); parent directories are created.
     *
     * <p>Points whose x or y is not finite are skipped, and a series left with no points is left out.
     * The y axis is logarithmic only if {@code logY} and every plotted y is {@code > 0}, else linear.
     *
     * @param series name to {@code {xs, ys}}, two arrays of equal length
     * @throws IllegalArgumentException if an entry is null, is not two arrays, or its arrays differ in length
     * @throws java.io.UncheckedIOException if the file cannot be written
     */
    public static void writePng(Path out, String title, String xLabel, String yLabel, Map<String, double[][]> series, boolean logY) {
        if (out == null) throw new IllegalArgumentException("output path is null");
        if (series == null) throw new IllegalArgumentException("series is null");
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title(title == null ? "" : title).xAxisTitle(xLabel == null ? "" : xLabel).yAxisTitle(yLabel == null ? "" : yLabel)
                .build();
        XYStyler st = chart.getStyler();
        st.setLegendVisible(true);
        st.setLegendPosition(Styler.LegendPosition.InsideNE);
        st.setChartBackgroundColor(java.awt.Color.WHITE);
        st.setxAxisTickLabelsFormattingFunction(LossPlot::compact); // 1,500 -> 1.5k: long step labels otherwise run together

        boolean allPositive = true;
        int plotted = 0;
        for (Map.Entry<String, double[][]> e : series.entrySet()) {
            String name = e.getKey();
            double[][] xy = e.getValue();
            if (name == null) throw new IllegalArgumentException("series name is null");
            if (xy == null || xy.length != 2 || xy[0] == null || xy[1] == null) {
                throw new IllegalArgumentException("series '" + name + "' must be {xs, ys}");
            }
            double[] xs = xy[0], ys = xy[1];
            if (xs.length != ys.length) {
                throw new IllegalArgumentException("series '" + name + "' has " + xs.length + " x values but " + ys.length + " y values");
            }
            int m = 0;
            for (int i = 0; i < xs.length; i++) if (Double.isFinite(xs[i]) && Double.isFinite(ys[i])) m++;
            if (m == 0) continue;
            double[] fx = new double[m], fy = new double[m];
            for (int i = 0, j = 0; i < xs.length; i++) {
                if (Double.isFinite(xs[i]) && Double.isFinite(ys[i])) {
                    fx[j] = xs[i];
                    fy[j] = ys[i];
                    if (ys[i] <= 0) allPositive = false;
                    j++;
                }
            }
            XYSeries s = chart.addSeries(name, fx, fy);
            s.setMarker(SeriesMarkers.NONE);
            plotted++;
        }
        if (plotted == 0) {
            // XChart cannot paint a chart without series: show an empty, labelled one
            XYSeries s = chart.addSeries("(no finite data)", new double[]{0}, new double[]{0});
            s.setMarker(SeriesMarkers.NONE);
            allPositive = false;
        }
        st.setYAxisLogarithmic(logY && allPositive);
        if (plotted > 0) breakEqualSpacing(chart, series);
        BufferedImage img = BitmapEncoder.getBufferedImage(chart);
        ImageGrid.writeAtomically(out, img);
    }

    /**
     * XChart places x ticks on the data's x values when they are equally spaced (a log of every step)
     * and then lets the labels overlap; one invisible point half a step before the first x keeps it
     * on its usual tick placement.
     */
    private static void breakEqualSpacing(XYChart chart, Map<String, double[][]> series) {
        double first = Double.POSITIVE_INFINITY, second = Double.POSITIVE_INFINITY;
        for (double[][] xy : series.values()) {
            for (double x : xy[0]) {
                if (!Double.isFinite(x) || x == first || x == second) continue;
                if (x < first) {
                    second = first;
                    first = x;
                } else if (x < second) second = x;
            }
        }
        if (!Double.isFinite(second)) return;
        XYSeries pad = chart.addSeries(" ", new double[]{first - (second - first) / 2}, new double[]{Double.NaN});
        pad.setShowInLegend(false);
        pad.setMarker(SeriesMarkers.NONE);
    }

    /** Short axis label: 950, 1.5k, 12k, 2.5M; non-integers with up to 3 significant digits. */
    static String compact(Double v) {
        double a = Math.abs(v);
        if (a >= 1e6) return trim(v / 1e6) + "M";
        if (a >= 1e3) return trim(v / 1e3) + "k";
        if (a == Math.rint(a)) return Long.toString(Math.round(v));
        return String.format(java.util.Locale.ROOT, "%.3g", v).replaceAll("\\.?0+(e|$)", "$1");
    }

    private static String trim(double v) {
        String s = String.format(java.util.Locale.ROOT, "%.2f", v);
        return s.contains(".") ? s.replaceAll("\\.?0+$", "") : s;
    }
}

package erw.training.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LossPlotTest {
    @TempDir
    Path dir;

    static Map<String, double[][]> twoSeries() {
        int m = 50;
        double[] xs = new double[m], a = new double[m], b = new double[m];
        for (int i = 0; i < m; i++) {
            xs[i] = i * 10;
            a[i] = 2.0 * Math.exp(-i / 10.0) + 0.05;
            b[i] = 1.0 / (i + 1);
        }
        a[7] = Double.NaN; // skipped
        b[3] = Double.POSITIVE_INFINITY; // skipped
        Map<String, double[][]> s = new LinkedHashMap<>();
        s.put("loss", new double[][]{xs, a});
        s.put("loss_align", new double[][]{xs, b});
        return s;
    }

    static BufferedImage check(Path out) throws IOException {
        assertTrue(Files.isRegularFile(out));
        BufferedImage img = ImageIO.read(out.toFile());
        assertNotNull(img, "PNG does not decode");
        assertEquals(900, img.getWidth());
        assertEquals(500, img.getHeight());
        return img;
    }

    @Test
    void twoSeriesLogAndLinear() throws IOException {
        Path log = dir.resolve("plots/loss.png"), lin = dir.resolve("loss-linear.png");
        LossPlot.writePng(log, "training loss", "step", "loss", twoSeries(), true);
        LossPlot.writePng(lin, "training loss", "step", "loss", twoSeries(), false);
        BufferedImage a = check(log), b = check(lin);
        boolean differ = false;
        for (int y = 0; y < 500 && !differ; y += 5)
            for (int x = 0; x < 900 && !differ; x += 5) differ = a.getRGB(x, y) != b.getRGB(x, y);
        assertTrue(differ, "log and linear plots look the same");
    }

    @Test
    void logFallsBackToLinearWithNonPositiveValuesAndEmptySeries() throws IOException {
        Map<String, double[][]> s = twoSeries();
        s.put("lambda", new double[][]{{0, 100, 200}, {0, -0.5, 1}});
        s.put("all-nan", new double[][]{{0, 1}, {Double.NaN, Double.NaN}});
        Path out = dir.resolve("mixed.png");
        LossPlot.writePng(out, "t", "x", "y", s, true);
        check(out);
        Path empty = dir.resolve("empty.png");
        LossPlot.writePng(empty, "nothing", "x", "y", Map.of(), true);
        check(empty);
    }

    @Test
    void compactAxisLabels() {
        assertEquals("0", LossPlot.compact(0.0));
        assertEquals("950", LossPlot.compact(950.0));
        assertEquals("1.5k", LossPlot.compact(1500.0));
        assertEquals("12k", LossPlot.compact(12000.0));
        assertEquals("2.25M", LossPlot.compact(2.25e6));
        assertEquals("-3k", LossPlot.compact(-3000.0));
        assertEquals("0.5", LossPlot.compact(0.5));
        assertEquals("0.125", LossPlot.compact(0.125));
    }

    @Test
    void badSeries() {
        Path out = dir.resolve("bad.png");
        Map<String, double[][]> s = Map.of("a", new double[][]{{1, 2, 3}, {1, 2}});
        var e = assertThrows(IllegalArgumentException.class, () -> LossPlot.writePng(out, "t", "x", "y", s, false));
        assertTrue(e.getMessage().contains("'a'"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> LossPlot.writePng(out, "t", "x", "y", Map.of("b", new double[][]{{1}}), false));
        assertTrue(Files.notExists(out));
    }
}

package erw.training.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageGridTest {
    @TempDir
    Path dir;

    static float level(int k) {
        return k / 127.5f - 1f;
    }

    @Test
    void greyGridTwoRowsThreeCols() throws IOException {
        int n = 6, h = 3, w = 4, cols = 3, scale = 2;
        float[] im = new float[n * h * w];
        for (int i = 0; i < n; i++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) im[i * h * w + y * w + x] = level(i * 40 + y * 4 + x);
        Path out = dir.resolve("sub/grid.png");
        ImageGrid.writePng(out, im, n, 1, h, w, cols, scale);
        BufferedImage img = ImageIO.read(out.toFile());
        assertEquals(3 * (w * scale + 2) + 2, img.getWidth());
        assertEquals(2 * (h * scale + 2) + 2, img.getHeight());
        assertEquals(1, img.getRaster().getNumBands());
        for (int i = 0; i < n; i++) {
            int x0 = 2 + (i % cols) * (w * scale + 2), y0 = 2 + (i / cols) * (h * scale + 2);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int s = 0; s < scale * scale; s++)
                        assertEquals(i * 40 + y * 4 + x, img.getRaster().getSample(x0 + x * scale + s % scale, y0 + y * scale + s / scale, 0),
                                "image " + i + " (" + y + "," + x + ")");
        }
        // separators: border, between columns, between rows
        assertEquals(ImageGrid.SEPARATOR_VALUE, img.getRaster().getSample(0, 0, 0));
        assertEquals(ImageGrid.SEPARATOR_VALUE, img.getRaster().getSample(1, 5, 0));
        assertEquals(ImageGrid.SEPARATOR_VALUE, img.getRaster().getSample(2 + w * scale, 3, 0));
        assertEquals(ImageGrid.SEPARATOR_VALUE, img.getRaster().getSample(3 + w * scale, 3, 0));
        assertEquals(ImageGrid.SEPARATOR_VALUE, img.getRaster().getSample(5, 2 + h * scale, 0));
        assertEquals(ImageGrid.SEPARATOR_VALUE, img.getRaster().getSample(img.getWidth() - 1, img.getHeight() - 1, 0));
        // no temporary files left behind
        try (Stream<Path> files = Files.list(out.getParent())) {
            assertEquals(1, files.count());
        }
    }

    @Test
    void rgbClampsAndLeavesEmptyCells() throws IOException {
        // 4 images of 1x1 RGB in 3 columns: the second row has one image and two empty cells
        float[] im = {
            1f, 0f, -1f, // image 0: R=255, G=128 (round(127.5)), B=0
            5f, -3f, Float.NaN, // image 1: clamped to 255, 0; NaN -> 0
            level(10), level(20), level(30),
            level(200), level(100), level(50)};
        Path out = dir.resolve("rgb.png");
        ImageGrid.writePng(out, im, 4, 3, 1, 1, 3, 1);
        BufferedImage img = ImageIO.read(out.toFile());
        assertEquals(3 * 3 + 2, img.getWidth());
        assertEquals(2 * 3 + 2, img.getHeight());
        assertEquals(0xff8000, img.getRGB(2, 2) & 0xffffff);
        assertEquals(0xff0000, img.getRGB(5, 2) & 0xffffff);
        assertEquals(0x0a141e, img.getRGB(8, 2) & 0xffffff);
        assertEquals(0xc86432, img.getRGB(2, 5) & 0xffffff);
        assertEquals(0x808080, img.getRGB(5, 5) & 0xffffff); // empty cell
        assertEquals(0x808080, img.getRGB(3, 3) & 0xffffff); // separator
    }

    @Test
    void fewerImagesThanColumnsUsesOneRowOfN() throws IOException {
        Path out = dir.resolve("two.png");
        ImageGrid.writePng(out, new float[]{-1, 1}, 2, 1, 1, 1, 8, 3);
        BufferedImage img = ImageIO.read(out.toFile());
        assertEquals(2 * (3 + 2) + 2, img.getWidth());
        assertEquals(3 + 2 + 2, img.getHeight());
        assertEquals(0, img.getRaster().getSample(2, 2, 0));
        assertEquals(255, img.getRaster().getSample(4 + 5, 4, 0));
    }

    @Test
    void overwritesAnExistingFile() throws IOException {
        Path out = dir.resolve("g.png");
        Files.writeString(out, "old");
        ImageGrid.writePng(out, new float[4], 1, 1, 2, 2, 1, 1);
        assertEquals(6, ImageIO.read(out.toFile()).getWidth());
    }

    @Test
    void badArguments() {
        Path out = dir.resolve("bad.png");
        var e = assertThrows(IllegalArgumentException.class, () -> ImageGrid.writePng(out, new float[8], 1, 2, 2, 2, 1, 1));
        assertTrue(e.getMessage().contains("channels"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ImageGrid.writePng(out, new float[10], 2, 1, 2, 2, 1, 1));
        assertTrue(e.getMessage().contains("10") && e.getMessage().contains("8"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ImageGrid.writePng(out, new float[4], 1, 1, 2, 2, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> ImageGrid.writePng(out, new float[4], 1, 1, 2, 2, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> ImageGrid.writePng(out, new float[0], 0, 1, 2, 2, 1, 1));
        assertTrue(Files.notExists(out));
    }
}

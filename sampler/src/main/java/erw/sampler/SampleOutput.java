package erw.sampler;

import erw.model.io.SafeTensors;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;

/** Writing samples: {@code samples.safetensors} (samples (N,C,H,W) F32, labels (N) F32) and a PNG grid. */
public final class SampleOutput {
    /** Pixels between tiles of the grid. */
    public static final int PAD = 2;

    private SampleOutput() {}

    /** Writes {@code samples} (N,C,H,W) and {@code labels} (N) with the given metadata. */
    public static void writeSafetensors(Path file, float[] samples, int n, int c, int h, int w, float[] labels, Map<String, String> metadata) {
        if (samples.length != (long) n * c * h * w || labels.length != n) {
            throw new IllegalArgumentException("samples/labels sizes do not match (" + n + ", " + c + ", " + h + ", " + w + ")");
        }
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        t.put("samples", new SafeTensors.Tensor(new long[]{n, c, h, w}, samples));
        t.put("labels", new SafeTensors.Tensor(new long[]{n}, labels));
        SafeTensors.write(file, t, metadata);
    }

    /** [-1, 1] -> [0, 255], rounded and clamped. */
    public static int toByte(float v) {
        double p = Math.rint((v + 1.0) * 127.5);
        return (int) Math.max(0, Math.min(255, p));
    }

    /**
     * A grid of N samples (C = 1 grey or C = 3 RGB), {@code cols} tiles per row, row-major,
     * tiles separated by {@link #PAD} black pixels; values scaled from [-1, 1].
     */
    public static BufferedImage grid(float[] samples, int n, int c, int h, int w, int cols) {
        return grid(samples, n, c, h, w, cols, PAD);
    }

    /** As {@link #grid(float[], int, int, int, int, int)} with {@code pad} pixels between and around tiles (0: one image as it is). */
    public static BufferedImage grid(float[] samples, int n, int c, int h, int w, int cols, int pad) {
        if (c != 1 && c != 3) throw new IllegalArgumentException("a PNG grid needs 1 or 3 channels, the samples have " + c);
        if (n < 1 || cols < 1) throw new IllegalArgumentException("grid of " + n + " samples in " + cols + " columns");
        int rows = (n + cols - 1) / cols;
        int gw = cols * w + (cols + 1) * pad, gh = rows * h + (rows + 1) * pad;
        BufferedImage img = new BufferedImage(gw, gh, c == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
        var raster = img.getRaster();
        int plane = h * w;
        for (int s = 0; s < n; s++) {
            int ox = pad + (s % cols) * (w + pad), oy = pad + (s / cols) * (h + pad);
            int base = s * c * plane;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int i = y * w + x;
                    if (c == 1) {
                        raster.setSample(ox + x, oy + y, 0, toByte(samples[base + i]));
                    } else {
                        int r = toByte(samples[base + i]), g = toByte(samples[base + plane + i]), b = toByte(samples[base + 2 * plane + i]);
                        img.setRGB(ox + x, oy + y, (r << 16) | (g << 8) | b);
                    }
                }
            }
        }
        return img;
    }

    /** Writes the grid as a PNG (atomically: a temporary file is moved into place). */
    public static void writePng(Path file, BufferedImage img) {
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            if (!ImageIO.write(img, "png", tmp.toFile())) throw new IOException("no PNG writer");
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}

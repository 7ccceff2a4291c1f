package erw.training.report;

import java.awt.image.BufferedImage;
import java.awt.image.RenderedImage;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import javax.imageio.ImageIO;

/**
 * A PNG grid of images (sample sheets): tiles of {@code (C, H, W)} values in [-1, 1], laid out
 * {@code cols} per row, each pixel repeated {@code scale} times (nearest neighbour), with
 * {@link #SEPARATOR}-pixel lines of {@link #SEPARATOR_VALUE} grey between tiles and around the grid
 * (like torchvision's {@code make_grid}).
 */
public final class ImageGrid {
    /** Width in pixels of the lines between tiles and around the grid (not scaled). */
    public static final int SEPARATOR = 2;
    /** Grey level (0..255) of the separator lines and of empty cells in the last row. */
    public static final int SEPARATOR_VALUE = 128;
    private static final long MAX_PIXELS = 1L << 28;

    private ImageGrid() {}

    /**
     * Writes {@code n} images as a PNG grid, atomically (a temporary file in the same directory, then a
     * rename); parent directories are created.
     *
     * <p>Values are clamped to [-1, 1] and mapped to 0..255 as {@code round((v + 1) * 127.5)}; NaN is
     * drawn as -1. The grid has {@code min(cols, n)} columns and {@code ceil(n / cols)} rows, so it is
     * {@code c * (width*scale + 2) + 2} by {@code r * (height*scale + 2) + 2} pixels. One channel gives a
     * greyscale PNG, three an RGB one.
     *
     * @param images (n, channels, height, width), row-major
     * @throws IllegalArgumentException on a bad shape or argument
     * @throws UncheckedIOException if the file cannot be written
     */
    public static void writePng(Path out, float[] images, int n, int channels, int height, int width, int cols, int scale) {
        if (out == null) throw new IllegalArgumentException("output path is null");
        if (images == null) throw new IllegalArgumentException("images is null");
        if (n < 1) throw new IllegalArgumentException("need at least one image, got n=" + n);
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("channels must be 1 (grey) or 3 (RGB), got " + channels);
        }
        if (height < 1 || width < 1) throw new IllegalArgumentException("bad image size " + height + "x" + width);
        if (cols < 1) throw new IllegalArgumentException("cols must be >= 1, got " + cols);
        if (scale < 1) throw new IllegalArgumentException("scale must be >= 1, got " + scale);
        long expected = (long) n * channels * height * width;
        if (expected != images.length) {
            throw new IllegalArgumentException("images has " + images.length + " values but n*C*H*W = " + n + "*"
                    + channels + "*" + height + "*" + width + " = " + expected);
        }
        int c = Math.min(cols, n), r = (n + cols - 1) / cols;
        long tileW = (long) width * scale + SEPARATOR, tileH = (long) height * scale + SEPARATOR;
        long gridW = c * tileW + SEPARATOR, gridH = r * tileH + SEPARATOR;
        if (gridW > Integer.MAX_VALUE || gridH > Integer.MAX_VALUE || gridW * gridH > MAX_PIXELS) {
            throw new IllegalArgumentException("grid of " + gridW + "x" + gridH + " pixels is too large");
        }
        BufferedImage img = new BufferedImage((int) gridW, (int) gridH,
                channels == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
        WritableRaster raster = img.getRaster();
        int[] sep = new int[(int) gridW * channels];
        java.util.Arrays.fill(sep, SEPARATOR_VALUE);
        for (int y = 0; y < gridH; y++) raster.setPixels(0, y, (int) gridW, 1, sep);

        int plane = height * width, tile = channels * plane;
        int[] row = new int[width * scale * channels];
        for (int i = 0; i < n; i++) {
            int x0 = SEPARATOR + (int) ((i % cols) * tileW), y0 = SEPARATOR + (int) ((i / cols) * tileH);
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    for (int ch = 0; ch < channels; ch++) {
                        int v = toByte(images[i * tile + ch * plane + y * width + x]);
                        for (int s = 0; s < scale; s++) row[(x * scale + s) * channels + ch] = v;
                    }
                }
                for (int s = 0; s < scale; s++) raster.setPixels(x0, y0 + y * scale + s, width * scale, 1, row);
            }
        }
        writeAtomically(out, img);
    }

    static int toByte(float v) {
        if (!(v > -1f)) return 0; // also NaN
        if (v >= 1f) return 255;
        return Math.round((v + 1f) * 127.5f);
    }

    /** Writes {@code img} as PNG to a temporary file next to {@code out}, then renames it over {@code out}. */
    static void writeAtomically(Path out, RenderedImage img) {
        Path target = out.toAbsolutePath();
        Path dir = target.getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
            if (!ImageIO.write(img, "png", tmp.toFile())) throw new IOException("no PNG writer for this image");
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }
}

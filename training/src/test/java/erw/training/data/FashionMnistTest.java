package erw.training.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FashionMnistTest {
    static final int S = 28, P = S * S;

    @TempDir
    Path dir;

    /** Image i has pixel (y, x) = (i * 37 + y * 5 + x * 3) % 256, and pixel (0, 0) of image 0 is 255. */
    static byte[] pixels(int n) {
        byte[] px = new byte[n * P];
        for (int i = 0; i < n; i++) {
            for (int y = 0; y < S; y++) {
                for (int x = 0; x < S; x++) px[i * P + y * S + x] = (byte) ((i * 37 + y * 5 + x * 3) % 256);
            }
        }
        px[0] = (byte) 255;
        return px;
    }

    static byte[] idxImages(int magic, int n, int rows, int cols, byte[] body) {
        ByteBuffer b = ByteBuffer.allocate(16 + body.length); // big-endian by default
        b.putInt(magic).putInt(n).putInt(rows).putInt(cols).put(body);
        return b.array();
    }

    static byte[] idxLabels(int magic, int n, byte[] body) {
        ByteBuffer b = ByteBuffer.allocate(8 + body.length);
        b.putInt(magic).putInt(n).put(body);
        return b.array();
    }

    static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bos)) {
            gz.write(data);
        }
        return bos.toByteArray();
    }

    void write(String name, byte[] data) throws IOException {
        Files.write(dir.resolve(name), data);
    }

    void writeSet(String split, int n, byte[] labels, boolean gz) throws IOException {
        byte[] img = idxImages(0x803, n, S, S, pixels(n)), lab = idxLabels(0x801, labels.length, labels);
        write(split + "-images-idx3-ubyte" + (gz ? ".gz" : ""), gz ? gzip(img) : img);
        write(split + "-labels-idx1-ubyte" + (gz ? ".gz" : ""), gz ? gzip(lab) : lab);
    }

    static void checkValues(FashionMnist d, int n, byte[] labels) {
        assertEquals(n, d.count());
        assertEquals(n * 32 * 32, d.images().length);
        assertArrayEquals(toInts(labels), d.labels());
        byte[] px = pixels(n);
        float[] im = d.images();
        for (int i = 0; i < n; i++) {
            for (int y = 0; y < 32; y++) {
                for (int x = 0; x < 32; x++) {
                    float v = im[i * 1024 + y * 32 + x];
                    boolean inside = y >= 2 && y < 30 && x >= 2 && x < 30;
                    float want = inside ? (px[i * P + (y - 2) * S + (x - 2)] & 0xff) / 127.5f - 1f : -1f;
                    assertEquals(want, v, 1e-6f, "image " + i + " (" + y + "," + x + ")");
                    assertTrue(v >= -1f && v <= 1f);
                }
            }
        }
        assertEquals(1f, im[2 * 32 + 2], 1e-6f); // pixel 255 -> 1
        assertEquals(-1f, im[0], 0f); // padding
        assertEquals(-1f, im[31 * 32 + 31], 0f);
        assertEquals(3 * 5 / 127.5f - 1f, im[(2 + 3) * 32 + 2], 1e-6f); // image 0, pixel (3, 0) = 15
    }

    static int[] toInts(byte[] b) {
        int[] r = new int[b.length];
        for (int i = 0; i < b.length; i++) r[i] = b[i];
        return r;
    }

    @Test
    void loadsGzippedTrainAndPlainTestSplits() throws IOException {
        byte[] trainLabels = {3, 0, 9}, testLabels = {1, 7};
        writeSet("train", 3, trainLabels, true);
        writeSet("t10k", 2, testLabels, false);
        checkValues(FashionMnist.load(dir, true), 3, trainLabels);
        checkValues(FashionMnist.load(dir, false), 2, testLabels);
    }

    @Test
    void acceptsDottedNamesAndDetectsGzipByContent() throws IOException {
        byte[] labels = {4, 2};
        // plain data under a .gz name, gzipped data under a plain name
        write("train-images.idx3-ubyte.gz", idxImages(0x803, 2, S, S, pixels(2)));
        write("train-labels.idx1-ubyte", gzip(idxLabels(0x801, 2, labels)));
        checkValues(FashionMnist.load(dir, true), 2, labels);
    }

    @Test
    void classNames() {
        assertEquals(10, FashionMnist.CLASS_NAMES.length);
        assertEquals("T-shirt/top", FashionMnist.CLASS_NAMES[0]);
        assertEquals("Ankle boot", FashionMnist.CLASS_NAMES[9]);
        assertEquals(Path.of("/usr/share/datasets/fashion-mnist"), FashionMnist.defaultDirectory());
    }

    @Test
    void missingDirectorySaysHowToInstall() {
        Path missing = dir.resolve("nope");
        var e = assertThrows(IllegalArgumentException.class, () -> FashionMnist.load(missing, true));
        assertEquals("Fashion-MNIST not found at " + missing
                + ": install Debian's package with `sudo apt-get install dataset-fashion-mnist` (or pass --data-dir)", e.getMessage());
    }

    @Test
    void missingFileIsNamed() throws IOException {
        writeSet("train", 1, new byte[]{0}, true);
        Files.delete(dir.resolve("train-labels-idx1-ubyte.gz"));
        var e = assertThrows(IllegalArgumentException.class, () -> FashionMnist.load(dir, true));
        assertTrue(e.getMessage().contains("train-labels-idx1-ubyte.gz"), e.getMessage());
        assertTrue(e.getMessage().contains("apt-get install dataset-fashion-mnist"), e.getMessage());
    }

    @Test
    void wrongMagic() throws IOException {
        writeSet("train", 1, new byte[]{0}, false);
        write("train-images-idx3-ubyte", idxLabels(0x801, 1, new byte[]{0})); // a label file where images belong
        var e = assertThrows(IllegalArgumentException.class, () -> FashionMnist.load(dir, true));
        assertTrue(e.getMessage().contains("train-images-idx3-ubyte") && e.getMessage().contains("0x00000801")
                && e.getMessage().contains("0x00000803"), e.getMessage());
    }

    @Test
    void truncatedPlainFile() throws IOException {
        writeSet("train", 2, new byte[]{0, 1}, false);
        byte[] full = idxImages(0x803, 2, S, S, pixels(2));
        write("train-images-idx3-ubyte", Arrays.copyOf(full, full.length - 10));
        var e = assertThrows(IllegalArgumentException.class, () -> FashionMnist.load(dir, true));
        assertTrue(e.getMessage().contains("train-images-idx3-ubyte") && e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void truncatedHeader() throws IOException {
        writeSet("train", 1, new byte[]{0}, false);
        write("train-labels-idx1-ubyte", new byte[]{0, 0, 8, 1, 0});
        var e = assertThrows(IllegalArgumentException.class, () -> FashionMnist.load(dir, true));
        assertTrue(e.getMessage().contains("train-labels-idx1-ubyte") && e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void truncatedGzipFile() throws IOException {
        writeSet("train", 2, new byte[]{0, 1}, true);
        byte[] gz = gzip(idxImages(0x803, 2, S, S, pixels(2)));
        write("train-images-idx3-ubyte.gz", Arrays.copyOf(gz, gz.length / 2));
        var e = assertThrows(IllegalArgumentException.class, () -> FashionMnist.load(dir, true));
        assertTrue(e.getMessage().contains("train-images-idx3-ubyte.gz") && e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void countMismatch() throws IOException {
        writeSet("train", 3, new byte[]{0, 1}, true);
        var e = assertThrows(IllegalArgumentException.class, () -> FashionMnist.load(dir, true));
        assertTrue(e.getMessage().contains("3 images") && e.getMessage().contains("2 labels")
                && e.getMessage().contains("train-labels-idx1-ubyte.gz"), e.getMessage());
    }

    @Test
    void labelOutOfRange() throws IOException {
        writeSet("train", 2, new byte[]{0, 10}, false);
        var e = assertThrows(IllegalArgumentException.class, () -> FashionMnist.load(dir, true));
        assertTrue(e.getMessage().contains("label 10") && e.getMessage().contains("train-labels-idx1-ubyte"), e.getMessage());
    }

    @Test
    void wrongImageSize() throws IOException {
        writeSet("train", 1, new byte[]{0}, false);
        write("train-images-idx3-ubyte", idxImages(0x803, 1, 32, 32, new byte[32 * 32]));
        var e = assertThrows(IllegalArgumentException.class, () -> FashionMnist.load(dir, true));
        assertTrue(e.getMessage().contains("28x28") && e.getMessage().contains("32x32"), e.getMessage());
    }

    @Test
    void realTrainSet() {
        Path real = FashionMnist.defaultDirectory();
        assumeTrue(Files.isDirectory(real), "Fashion-MNIST not installed at " + real);
        FashionMnist d = FashionMnist.load(real, true);
        assertEquals(60000, d.count());
        assertEquals(60000 * 1024, d.images().length);
        int[] perClass = new int[10];
        for (int l : d.labels()) perClass[l]++;
        for (int c = 0; c < 10; c++) assertEquals(6000, perClass[c], "class " + c);
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (float v : d.images()) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        assertEquals(-1f, min, 0f);
        assertEquals(1f, max, 1e-6f);
        assertEquals(9, d.labels()[0]); // first training image is an ankle boot
        for (int i = 0; i < 32; i++) assertEquals(-1f, d.images()[i], 0f); // top padding row
    }
}

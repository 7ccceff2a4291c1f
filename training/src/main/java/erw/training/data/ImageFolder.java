package erw.training.data;

import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * A folder of images with one sub-folder per class, as torchvision's {@code ImageFolder} reads it:
 * classes are the sub-folders in name order (ids 0, 1, ...), each class's files in name order; PNG,
 * JPEG, BMP and GIF files are taken, other files skipped.
 *
 * <p>{@link #load} is ADM's {@code center_crop_arr} (guided-diffusion, used by REPA's and ERW's
 * preprocessing): halve the image with PIL's BOX filter while its short side is at least twice the
 * size, resize with PIL's BICUBIC so the short side is the size (sides rounded half to even, as
 * Python's {@code round}), and cut the centre square. The resampling is PIL's ({@code Resample.c}):
 * separable, horizontal pass first, 8-bit fixed-point coefficients of 22 fractional bits, the
 * intermediate image rounded to 8 bits. Images are made RGB as PIL's {@code convert("RGB")} does
 * (grey replicated, alpha dropped). JPEG decoders differ (ImageIO's versus libjpeg's IDCT), so JPEG
 * pixels may differ from PIL's by a level or two; PNG input gives PIL's pixels.
 */
public final class ImageFolder {
    /** One image and its class id. */
    public record Entry(Path file, int label) {}

    private final Path root;
    private final List<String> classes;
    private final List<Entry> entries;

    private ImageFolder(Path root, List<String> classes, List<Entry> entries) {
        this.root = root;
        this.classes = List.copyOf(classes);
        this.entries = List.copyOf(entries);
    }

    private static boolean isImage(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return Files.isRegularFile(p) && (n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".bmp") || n.endsWith(".gif"));
    }

    /** Lists the folder; a folder without class sub-folders holding images is refused in one line. */
    public static ImageFolder scan(Path root) {
        if (!Files.isDirectory(root)) throw new IllegalArgumentException(root + ": not a directory (expected one sub-folder of images per class)");
        List<String> classes = new ArrayList<>();
        List<Entry> entries = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(root)) {
            List<Path> sub = dirs.filter(Files::isDirectory).sorted().toList();
            for (Path d : sub) {
                List<Path> files;
                try (Stream<Path> fs = Files.list(d)) {
                    files = fs.filter(ImageFolder::isImage).sorted().toList();
                }
                if (files.isEmpty()) continue;
                int id = classes.size();
                classes.add(d.getFileName().toString());
                for (Path f : files) entries.add(new Entry(f, id));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
        }
        if (classes.isEmpty()) {
            throw new IllegalArgumentException(root + ": no class sub-folder with images (.png, .jpg, .jpeg, .bmp, .gif); expected ROOT/CLASS/IMAGE, as torchvision's ImageFolder");
        }
        return new ImageFolder(root, classes, entries);
    }

    public Path root() {
        return root;
    }

    /** Class names (sub-folder names) by id. */
    public List<String> classes() {
        return classes;
    }

    public List<Entry> entries() {
        return entries;
    }

    /** The image as (3, size, size) floats in [-1, 1] (pixel / 127.5 - 1), centre-cropped as ADM does. */
    public static float[] load(Path file, int size) {
        int[][] rgb = centreCrop(read(file), size);
        float[] out = new float[3 * size * size];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < size * size; i++) out[c * size * size + i] = rgb[c][i] / 127.5f - 1f;
        }
        return out;
    }

    /** An image file as RGB planes {r, g, b} (width * height each) plus {width, height} in the fourth entry. */
    static int[][] read(Path file) {
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot be read as an image: " + e.getMessage());
        }
        if (img == null) throw new IllegalArgumentException(file + ": not an image format Java can read (PNG, JPEG, BMP, GIF)");
        int w = img.getWidth(), h = img.getHeight();
        int[][] p = {new int[w * h], new int[w * h], new int[w * h], {w, h}};
        Raster r = img.getRaster();
        int bands = img.getColorModel().getNumColorComponents();
        if (bands == 1 && !(img.getColorModel() instanceof java.awt.image.IndexColorModel)) {
            // grey: the stored levels (getRGB would convert them through a linear-grey colour space)
            int bits = img.getColorModel().getComponentSize(0);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int v = r.getSample(x, y, 0);
                    if (bits > 8) v = (int) Math.round(v * 255.0 / ((1 << bits) - 1));
                    p[0][y * w + x] = p[1][y * w + x] = p[2][y * w + x] = v;
                }
            }
        } else {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int v = img.getRGB(x, y);
                    p[0][y * w + x] = (v >> 16) & 255;
                    p[1][y * w + x] = (v >> 8) & 255;
                    p[2][y * w + x] = v & 255;
                }
            }
        }
        return p;
    }

    /** ADM's center_crop_arr on planes from {@link #read}: returns {r, g, b} of size * size. */
    static int[][] centreCrop(int[][] img, int size) {
        int w = img[3][0], h = img[3][1];
        int[][] planes = {img[0], img[1], img[2]};
        while (Math.min(w, h) >= 2 * size) {
            int nw = w / 2, nh = h / 2;
            planes = resize(planes, w, h, nw, nh, BOX);
            w = nw;
            h = nh;
        }
        double scale = size / (double) Math.min(w, h);
        int nw = (int) Math.rint(w * scale), nh = (int) Math.rint(h * scale);
        if (nw != w || nh != h) planes = resize(planes, w, h, nw, nh, BICUBIC);
        int cy = (nh - size) / 2, cx = (nw - size) / 2;
        int[][] out = new int[3][size * size];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < size; y++) System.arraycopy(planes[c], (cy + y) * nw + cx, out[c], y * size, size);
        }
        return out;
    }

    // ---- PIL's resampling (Resample.c), 8 bits per channel --------------------------------------

    /** A PIL filter: support and kernel. */
    private interface Filter {
        double support();
        double at(double x);
    }

    private static final Filter BOX = new Filter() {
        public double support() { return 0.5; }
        public double at(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }
    };

    private static final Filter BICUBIC = new Filter() {
        public double support() { return 2.0; }
        public double at(double x) {
            final double a = -0.5;
            x = Math.abs(x);
            if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
            if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
            return 0.0;
        }
    };

    private static final int PRECISION_BITS = 32 - 8 - 2;

    /** Per output pixel: first input index, count and the fixed-point coefficients (PIL's precompute_coeffs + normalize_coeffs_8bpc). */
    private record Coeffs(int[] first, int[] count, int[][] k) {}

    private static Coeffs coeffs(int inSize, int outSize, Filter f) {
        double scale = inSize / (double) outSize, filterScale = Math.max(scale, 1.0);
        double support = f.support() * filterScale, ss = 1.0 / filterScale;
        int[] first = new int[outSize], count = new int[outSize];
        int[][] k = new int[outSize][];
        for (int o = 0; o < outSize; o++) {
            double center = (o + 0.5) * scale;
            int xmin = (int) (center - support + 0.5);
            if (xmin < 0) xmin = 0;
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            double[] w = new double[xmax];
            double ww = 0;
            for (int x = 0; x < xmax; x++) {
                w[x] = f.at((x + xmin - center + 0.5) * ss);
                ww += w[x];
            }
            k[o] = new int[xmax];
            for (int x = 0; x < xmax; x++) {
                double v = ww != 0 ? w[x] / ww : w[x];
                k[o][x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS)) : (int) (0.5 + v * (1 << PRECISION_BITS));
            }
            first[o] = xmin;
            count[o] = xmax;
        }
        return new Coeffs(first, count, k);
    }

    private static int clip8(int acc) {
        int v = acc >> PRECISION_BITS;
        return v < 0 ? 0 : Math.min(v, 255);
    }

    /** Resizes each plane (w x h) to (nw x nh): a horizontal pass, then a vertical one, as PIL does. */
    static int[][] resize(int[][] planes, int w, int h, int nw, int nh, Filter f) {
        int[][] out = new int[planes.length][];
        Coeffs hc = nw != w ? coeffs(w, nw, f) : null, vc = nh != h ? coeffs(h, nh, f) : null;
        for (int c = 0; c < planes.length; c++) {
            int[] src = planes[c];
            int cw = w;
            if (hc != null) {
                int[] tmp = new int[nw * h];
                for (int y = 0; y < h; y++) {
                    for (int o = 0; o < nw; o++) {
                        int acc = 1 << (PRECISION_BITS - 1), base = y * w + hc.first[o];
                        int[] k = hc.k[o];
                        for (int x = 0; x < k.length; x++) acc += src[base + x] * k[x];
                        tmp[y * nw + o] = clip8(acc);
                    }
                }
                src = tmp;
                cw = nw;
            }
            if (vc != null) {
                int[] tmp = new int[cw * nh];
                for (int o = 0; o < nh; o++) {
                    int[] k = vc.k[o];
                    int y0 = vc.first[o];
                    for (int x = 0; x < cw; x++) {
                        int acc = 1 << (PRECISION_BITS - 1);
                        for (int y = 0; y < k.length; y++) acc += src[(y0 + y) * cw + x] * k[y];
                        tmp[o * cw + x] = clip8(acc);
                    }
                }
                src = tmp;
            }
            out[c] = src;
        }
        return out;
    }
}

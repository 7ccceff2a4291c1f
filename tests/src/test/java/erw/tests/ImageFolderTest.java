package erw.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import erw.training.data.ImageFolder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ADM's centre crop against PIL (tools/torch/adm_crop_fixture.py ran guided-diffusion's center_crop_arr
 * with PIL 9.4 on the committed PNGs): the same 8-bit pixels, for RGB, grey, RGBA and palette images,
 * box halving, bicubic down- and upscaling.
 */
class ImageFolderTest {
    private static final Path DIR = Path.of("src/test/resources/fixtures/images");

    @Test
    void centreCropMatchesPil() {
        try (SafeTensorsFile f = SafeTensors.open(DIR.resolve("crops.safetensors"))) {
            for (String name : List.of("rgb_box_then_bicubic", "grey_odd_bicubic", "rgba_upscale", "palette_box_only")) {
                int size = Integer.parseInt(f.metadata().get(name + ".size"));
                float[] pil = f.readFloats(name); // (size, size, 3)
                float[] erw = ImageFolder.load(DIR.resolve(name + ".png"), size); // (3, size, size) in [-1, 1]
                int differ = 0;
                for (int c = 0; c < 3; c++) {
                    for (int i = 0; i < size * size; i++) {
                        int mine = (int) Math.rint((erw[c * size * size + i] + 1) * 127.5);
                        if (mine != (int) pil[i * 3 + c]) differ++;
                    }
                }
                assertEquals(0, differ, name + ": pixels that differ from PIL's");
            }
        }
    }

    @Test
    void classesAreSubFoldersInNameOrder(@TempDir Path root) throws Exception {
        Files.createDirectories(root.resolve("zebra"));
        Files.createDirectories(root.resolve("apple"));
        Files.createDirectories(root.resolve("empty"));
        Files.copy(DIR.resolve("rgba_upscale.png"), root.resolve("zebra/b.png"));
        Files.copy(DIR.resolve("grey_odd_bicubic.png"), root.resolve("zebra/a.PNG"));
        Files.copy(DIR.resolve("grey_odd_bicubic.png"), root.resolve("apple/x.png"));
        Files.writeString(root.resolve("apple/notes.txt"), "not an image");
        ImageFolder f = ImageFolder.scan(root);
        assertEquals(List.of("apple", "zebra"), f.classes());
        assertEquals(List.of(new ImageFolder.Entry(root.resolve("apple/x.png"), 0), new ImageFolder.Entry(root.resolve("zebra/a.PNG"), 1),
                new ImageFolder.Entry(root.resolve("zebra/b.png"), 1)), f.entries());
    }

    @Test
    void badFoldersAndFilesAreRefusedInOneLine(@TempDir Path root) throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ImageFolder.scan(root));
        assertTrue(e.getMessage().contains("no class sub-folder with images"), e.getMessage());
        Path bad = root.resolve("c/broken.png");
        Files.createDirectories(bad.getParent());
        Files.writeString(bad, "not a png");
        e = assertThrows(IllegalArgumentException.class, () -> ImageFolder.load(bad, 32));
        assertTrue(e.getMessage().startsWith(bad.toString()), e.getMessage());
    }
}

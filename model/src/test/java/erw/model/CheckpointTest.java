package erw.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsException;
import erw.model.io.SafeTensorsFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    static final SiTConfig CFG = SiTTest.TINY;

    @Test
    void roundTripKeepsEveryTensorAndTheConfig(@TempDir Path dir) {
        SiT m = SiTTest.randomModel(CFG, 3);
        Path f = dir.resolve("m.safetensors");
        Checkpoint.save(f, m, Map.of("note", "x"));
        SiT back = Checkpoint.load(f, false, null);
        assertEquals(CFG, back.config());
        m.parameters().all().forEach((k, v) -> assertArrayEquals(v.data(), back.parameters().get(k).data(), k));
    }

    @Test
    void partialLoadByNameReportsWhatWasCopied(@TempDir Path dir) {
        SiTConfig full = new SiTConfig(3, 32, 2, 2, 4, 2, 3, 2, 16, 8, 4.0, false, false, 0);
        SiT warm = SiTTest.randomModel(full.truncatedTo(1), 4);
        Path f = dir.resolve("warm.safetensors");
        Checkpoint.save(f, warm, Map.of());
        SiT target = new SiT(full).initialize(1);
        try (SafeTensorsFile file = SafeTensors.open(f)) {
            List<String> copied = Checkpoint.loadInto(file, target.parameters(), "", true);
            assertEquals(warm.parameters().all().keySet().stream().toList(), copied);
        }
        assertArrayEquals(warm.parameters().get("blocks.0.attn.qkv.weight").data(), target.parameters().get("blocks.0.attn.qkv.weight").data());
    }

    @Test
    void aForeignCheckpointNeedsTheModelNamed(@TempDir Path dir) {
        SiT m = SiTTest.randomModel(CFG, 5);
        Path f = dir.resolve("foreign.safetensors");
        SafeTensors.write(f, Checkpoint.tensors(m.parameters(), ""), Map.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(f, false, null));
        assertTrue(e.getMessage().contains("--model"), e.getMessage());
        assertEquals(CFG, Checkpoint.load(f, false, CFG).config());
    }

    @Test
    void learnedSigmaOutputsOfThePublishedModelAreDropped(@TempDir Path dir) {
        SiT m = SiTTest.randomModel(CFG, 6);
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>(Checkpoint.tensors(m.parameters(), ""));
        int c = CFG.inChannels(), p2 = CFG.patchSize() * CFG.patchSize(), d = CFG.hiddenSize();
        float[] w = m.parameters().get("final_layer.linear.weight").data(), w2 = new float[2 * w.length];
        for (int pix = 0; pix < p2; pix++) for (int ch = 0; ch < 2 * c; ch++) for (int k = 0; k < d; k++) {
            w2[(pix * 2 * c + ch) * d + k] = ch < c ? w[(pix * c + ch) * d + k] : 99f;
        }
        t.put("final_layer.linear.weight", new SafeTensors.Tensor(new long[]{2L * p2 * c, d}, w2));
        float[] b = m.parameters().get("final_layer.linear.bias").data(), b2 = new float[2 * b.length];
        for (int pix = 0; pix < p2; pix++) for (int ch = 0; ch < 2 * c; ch++) b2[pix * 2 * c + ch] = ch < c ? b[pix * c + ch] : 99f;
        t.put("final_layer.linear.bias", new SafeTensors.Tensor(new long[]{2L * p2 * c}, b2));
        Path f = dir.resolve("sigma.safetensors");
        SafeTensors.write(f, t, Map.of(Checkpoint.CONFIG_KEY, CFG.toJson()));
        SiT back = Checkpoint.load(f, false, null);
        assertArrayEquals(w, back.parameters().get("final_layer.linear.weight").data());
        assertArrayEquals(b, back.parameters().get("final_layer.linear.bias").data());
    }

    @Test
    void badFilesGiveOneClearErrorAndNoModel(@TempDir Path dir) throws Exception {
        SiT m = SiTTest.randomModel(CFG, 7);
        Path good = dir.resolve("good.safetensors");
        Checkpoint.save(good, m, Map.of());
        byte[] bytes = Files.readAllBytes(good);

        Path truncated = dir.resolve("truncated.safetensors");
        Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        assertOneLine(assertThrows(SafeTensorsException.class, () -> Checkpoint.load(truncated, false, null)), "truncated");

        long headerLen = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(bytes, 8, (int) headerLen, StandardCharsets.UTF_8);
        String lying = header.replaceFirst("\"data_offsets\":\\[0,", "\"data_offsets\":[4,");
        Path lies = dir.resolve("lies.safetensors");
        Files.write(lies, withHeader(bytes, headerLen, lying));
        assertOneLine(assertThrows(SafeTensorsException.class, () -> Checkpoint.load(lies, false, null)), "lies");

        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>(Checkpoint.tensors(m.parameters(), ""));
        t.put("blocks.0.attn.qkv.weight", new SafeTensors.Tensor(new long[]{3, 32}, new float[96]));
        t.put("blocks.7.mlp.fc1.weight", new SafeTensors.Tensor(new long[]{2}, new float[2]));
        t.remove("pos_embed");
        Path wrong = dir.resolve("wrong.safetensors");
        SafeTensors.write(wrong, t, Map.of(Checkpoint.CONFIG_KEY, CFG.toJson()));
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> Checkpoint.load(wrong, false, null));
        assertTrue(e.getMessage().contains("shape of blocks.0.attn.qkv.weight") && e.getMessage().contains("unexpected blocks.7.mlp.fc1.weight")
                && e.getMessage().contains("missing pos_embed"), e.getMessage());

        // an integer tensor where a weight belongs
        String intHeader = header.replaceFirst("(\"x_embedder.proj.bias\":\\{\"dtype\":\")F32", "$1I32");
        Path ints = dir.resolve("ints.safetensors");
        Files.write(ints, withHeader(bytes, headerLen, intHeader));
        SafeTensorsException d = assertThrows(SafeTensorsException.class, () -> Checkpoint.load(ints, false, null));
        assertTrue(d.getMessage().contains("dtype of x_embedder.proj.bias"), d.getMessage());
    }

    private static byte[] withHeader(byte[] bytes, long oldLen, String header) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + (int) (bytes.length - 8 - oldLen)).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(bytes, (int) (8 + oldLen), (int) (bytes.length - 8 - oldLen));
        return out.array();
    }

    private static void assertOneLine(Exception e, String what) {
        assertTrue(e.getMessage() != null && !e.getMessage().contains("\n"), what + ": " + e.getMessage());
    }
}

package erw.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {
    @TempDir
    Path dir;

    /** An .npy file as numpy writes it: magic, version, header length, dict padded with spaces to 64 and '\n', data. */
    static byte[] npy(int major, String dict, byte[] data) {
        int pre = major == 1 ? 10 : 12;
        StringBuilder h = new StringBuilder(dict);
        while ((pre + h.length() + 1) % 64 != 0) h.append(' ');
        h.append('\n');
        byte[] hb = h.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(pre + hb.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[]{(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        if (major == 1) b.putShort((short) hb.length);
        else b.putInt(hb.length);
        return b.put(hb).put(data).array();
    }

    @Test
    void roundTrip() throws IOException {
        Path p = dir.resolve("latents.npy");
        float[] data = {1, -2.5f, 3e-8f, Float.NaN, 5, 6};
        Npy.write(p, new long[]{2, 3}, data);
        byte[] b = Files.readAllBytes(p);
        assertEquals(0, (b.length - 24) % 64, "numpy pads the header to a multiple of 64");
        String header = new String(b, 10, b.length - 34, StandardCharsets.ISO_8859_1);
        assertTrue(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }") && header.endsWith("\n"), header);
        Npy.Array a = Npy.read(p);
        assertArrayEquals(new long[]{2, 3}, a.shape());
        assertArrayEquals(data, a.data());

        Npy.write(p, new long[]{4}, new float[]{1, 2, 3, 4});
        assertTrue(new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1).contains("'shape': (4,)"));
        assertArrayEquals(new long[]{4}, Npy.read(p).shape());
        Npy.write(p, new long[0], new float[]{7});
        assertArrayEquals(new long[0], Npy.read(p).shape());
        assertArrayEquals(new float[]{7}, Npy.read(p).data());
        Npy.write(p, new long[]{0, 3}, new float[0]);
        assertEquals(0, Npy.read(p).data().length);
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(1, s.count(), "no temp files left");
        }
        assertThrows(IllegalArgumentException.class, () -> Npy.write(p, new long[]{3}, new float[2]));
    }

    @Test
    void readsDoubleV1() throws IOException {
        ByteBuffer d = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN).putDouble(Math.E).putDouble(-1).putDouble(1e300).putDouble(0.1);
        Path p = Files.write(dir.resolve("d.npy"), npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", d.array()));
        Npy.Array a = Npy.read(p);
        assertArrayEquals(new long[]{2, 2}, a.shape());
        assertArrayEquals(new float[]{(float) Math.E, -1, Float.POSITIVE_INFINITY, 0.1f}, a.data());
    }

    @Test
    void readsLongV2AndOtherTypes() throws IOException {
        ByteBuffer d = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(3).putLong(-9).putLong(1000);
        Path p = Files.write(dir.resolve("labels.npy"), npy(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", d.array()));
        Npy.Array a = Npy.read(p);
        assertArrayEquals(new long[]{3}, a.shape());
        assertArrayEquals(new float[]{3, -9, 1000}, a.data());

        Path i4 = Files.write(dir.resolve("i4.npy"), npy(3, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(-1).putInt(17).array()));
        assertArrayEquals(new float[]{-1, 17}, Npy.read(i4).data());
        Path u1 = Files.write(dir.resolve("u1.npy"), npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 3), }", new byte[]{0, (byte) 200, 7}));
        assertArrayEquals(new float[]{0, 200, 7}, Npy.read(u1).data());
        Path i1 = Files.write(dir.resolve("i1.npy"), npy(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", new byte[]{-3, 4}));
        assertArrayEquals(new float[]{-3, 4}, Npy.read(i1).data());
        Path f2 = Files.write(dir.resolve("f2.npy"), npy(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", new byte[]{0x00, 0x3C, 0x00, (byte) 0xC0}));
        assertArrayEquals(new float[]{1, -2}, Npy.read(f2).data());
        Path be = Files.write(dir.resolve("be.npy"), npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putFloat(1.25f).array()));
        assertArrayEquals(new float[]{1.25f}, Npy.read(be).data());
    }

    @Test
    void rejectsBadFiles() throws IOException {
        Path fortran = Files.write(dir.resolve("fortran.npy"), npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new byte[16]));
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> Npy.read(fortran));
        assertTrue(e.getMessage().contains("fortran.npy") && e.getMessage().contains("fortran_order"), e.getMessage());

        Path complex = Files.write(dir.resolve("c.npy"), npy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", new byte[8]));
        e = assertThrows(SafeTensorsException.class, () -> Npy.read(complex));
        assertTrue(e.getMessage().contains("c.npy") && e.getMessage().contains("'<c8'"), e.getMessage());

        byte[] full = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", new byte[16]);
        Path trunc = Files.write(dir.resolve("t.npy"), Arrays.copyOf(full, full.length - 3));
        e = assertThrows(SafeTensorsException.class, () -> Npy.read(trunc));
        assertTrue(e.getMessage().contains("t.npy") && e.getMessage().contains("truncated"), e.getMessage());

        Path notNpy = Files.writeString(dir.resolve("x.npy"), "hello world, not numpy");
        e = assertThrows(SafeTensorsException.class, () -> Npy.read(notNpy));
        assertTrue(e.getMessage().contains("x.npy") && e.getMessage().contains("not a .npy"), e.getMessage());
    }
}

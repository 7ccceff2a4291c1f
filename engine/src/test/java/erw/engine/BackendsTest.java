package erw.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

/** --backend resolution when only the built-in CPU backend is present (the default build). */
class BackendsTest {
    @Test
    void cpuAndAutoGiveTheCpuBackend() {
        for (String name : new String[]{"cpu", "CPU", "auto", null}) {
            Backends.Choice c = Backends.choose(name);
            assertEquals("cpu", c.name());
            assertTrue(c.isCpu());
            try (Backend b = c.create(1)) {
                assertTrue(b instanceof CpuBackend);
            }
        }
    }

    @Test
    void tornadoWithoutTheModuleAndUnknownNamesFailWithAMessage() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.choose("tornado"));
        assertTrue(e.getMessage().contains("not in this build") && e.getMessage().contains("--backend cpu"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Backends.choose("cuda"));
        assertEquals("--backend cuda: use cpu, tornado or auto", e.getMessage());
    }
}

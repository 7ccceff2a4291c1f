package erw.engine.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;

/** Local rank r of a data-parallel job runs on device r mod the devices, unless the user chose one. */
class RankDeviceTest {
    @Test
    void localRanksSpreadOverTheDevices() {
        assertEquals(3, RankDevice.index(Map.of("LOCAL_RANK", "3"), null, 8));
        assertEquals(1, RankDevice.index(Map.of("OMPI_COMM_WORLD_LOCAL_RANK", "9"), null, 8), "more ranks than devices: wrap around");
        assertEquals(2, RankDevice.index(Map.of("SLURM_LOCALID", "2"), null, 4));
        assertEquals(0, RankDevice.index(Map.of("LOCAL_RANK", "0", "OMPI_COMM_WORLD_LOCAL_RANK", "5"), null, 8), "torchrun's variable first");
        assertEquals(-1, RankDevice.index(Map.of("LOCAL_RANK", "3"), "1", 8), "-Dtornado.device given: the user's choice");
        assertEquals(0, RankDevice.index(Map.of("LOCAL_RANK", "3"), null, 1), "one device: all ranks on it");
        assertEquals(-1, RankDevice.index(Map.of(), null, 8), "not a data-parallel job");
        assertEquals(-1, RankDevice.index(Map.of("LOCAL_RANK", "x"), null, 8), "not a number");
    }

    @Test
    void cudaGraphsOnlyWhereTornadoCapturesThem() {
        assertNull(RankDevice.cudaGraphError(true, TornadoVMBackendType.PTX));
        assertNull(RankDevice.cudaGraphError(true, TornadoVMBackendType.CUDA));
        assertNull(RankDevice.cudaGraphError(false, TornadoVMBackendType.OPENCL), "not asked for");
        String why = RankDevice.cudaGraphError(true, TornadoVMBackendType.OPENCL);
        assertTrue(why.contains("-Derw.tornado.cudaGraph=true") && why.contains("OPENCL"), why);
    }
}

/** The TornadoVM backend of erw: the kernel catalogue as TornadoVM kernels, recorded graphs as TaskGraphs. */
module erw.engine.tornado {
    requires transitive erw.engine; // its API (Backend, Graph, Plan, WorkerPool) is part of this one's
    requires tornado.api;
    requires tornado.runtime; // the library-provider SPI (CublasProvider)
    requires java.management; // the JVM's command line: whether the user chose a device (RankDevice)
    exports erw.engine.tornado;
    // TornadoVM's runtime reads the kernels' bytecode and reflects on them
    opens erw.engine.tornado.kernels;
    provides erw.engine.BackendProvider with erw.engine.tornado.TornadoBackendProvider;
    provides uk.ac.manchester.tornado.runtime.library.spi.TornadoLibraryProvider with erw.engine.tornado.CublasProvider;
}

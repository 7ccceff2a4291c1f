/**
 * Data-parallel training across processes: a small, typed binding of Open MPI's {@code libmpi}
 * through the FFM API ({@link erw.distributed.Mpi}) and the {@link erw.training.Collective} it
 * provides to the trainer. Nothing here is needed by a single-process run.
 */
module erw.distributed {
    requires transitive erw.training;
    exports erw.distributed;
}

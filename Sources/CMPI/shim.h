// Open MPI (Debian libopenmpi-dev). Its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM...) are macros over the
// addresses of library globals, which Swift cannot import, so the few calls synth makes are wrapped here.
#include <mpi.h>

static inline int synth_mpi_initialized(void) { int f = 0; MPI_Initialized(&f); return f; }
static inline int synth_mpi_finalized(void) { int f = 0; MPI_Finalized(&f); return f; }
static inline int synth_mpi_init(void) { return MPI_Init(NULL, NULL); }
static inline int synth_mpi_finalize(void) { return MPI_Finalize(); }
/// Errors on COMM_WORLD come back as return codes instead of aborting inside the library.
static inline int synth_mpi_errors_return(void) { return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); }
static inline int synth_mpi_rank(void) { int r = 0; MPI_Comm_rank(MPI_COMM_WORLD, &r); return r; }
static inline int synth_mpi_size(void) { int n = 1; MPI_Comm_size(MPI_COMM_WORLD, &n); return n; }
static inline int synth_mpi_allreduce_sum_float(float *buf, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, buf, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static inline int synth_mpi_allreduce_sum_double(double *buf, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, buf, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
static inline int synth_mpi_allreduce_max_uint64(unsigned long long *buf, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, buf, count, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
}
static inline int synth_mpi_broadcast_bytes(void *buf, int count, int root) {
    return MPI_Bcast(buf, count, MPI_BYTE, root, MPI_COMM_WORLD);
}
static inline int synth_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static inline int synth_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }
static inline double synth_mpi_wtime(void) { return MPI_Wtime(); }
static inline void synth_mpi_error_string(int code, char *out, int capacity) {
    char text[MPI_MAX_ERROR_STRING]; int n = 0;
    if (MPI_Error_string(code, text, &n) != MPI_SUCCESS) n = 0;
    if (capacity <= 0) return;
    if (n > capacity - 1) n = capacity - 1;
    for (int i = 0; i < n; i++) out[i] = text[i];
    out[n] = 0;
}

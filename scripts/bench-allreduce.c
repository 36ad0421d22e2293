// Times MPI_Allreduce (sum, in place) of the shipped voice's gradient: 932,128 floats (3.73 MB), as the trainer
// calls it once per step (docs/scale-out.md). Prints min / median / mean over the repetitions, on rank 0.
//   mpicc -O2 scripts/bench-allreduce.c -o /tmp/bench-allreduce
//   mpirun -np 2 --oversubscribe /tmp/bench-allreduce [floats] [repetitions]
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int count = argc > 1 ? atoi(argv[1]) : 932128, reps = argc > 2 ? atoi(argv[2]) : 50;
    float *g = malloc((size_t)count * sizeof(float));
    double *t = malloc((size_t)reps * sizeof(double));
    for (int i = 0; i < count; i++) g[i] = 1e-3f * (float)(i % 1000) * (float)(rank + 1);
    for (int r = -5; r < reps; r++) {  // 5 warm-up calls
        MPI_Barrier(MPI_COMM_WORLD);    // as in training, where a small allreduce of the losses synchronises the ranks
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, g, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (r >= 0) t[r] = MPI_Wtime() - t0;
    }
    if (rank == 0) {
        double sum = 0;
        for (int r = 0; r < reps; r++) sum += t[r];
        qsort(t, reps, sizeof(double), compare);
        printf("%d ranks, %d floats (%.2f MB): allreduce min %.2f ms, median %.2f ms, mean %.2f ms over %d\n", size, count,
               count * 4e-6, 1e3 * t[0], 1e3 * t[reps / 2], 1e3 * sum / reps, reps);
    }
    free(g);
    free(t);
    MPI_Finalize();
    return 0;
}

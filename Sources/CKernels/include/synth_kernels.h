// Hot element-wise and small matrix kernels of synth's NN core, in C so the compiler vectorises them (on x86-64
// Linux with AVX2 + FMA when the CPU has them, chosen at load time: see kernels.c).
#ifndef SYNTH_KERNELS_H
#define SYNTH_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Gated activation (van den Oord et al. 2016): for each of n rows of z = [tanh half (h) | sigmoid half (h)],
/// t = tanh(z[:h]), s = sigmoid(z[h:]), a = t*s. t, s, a are [n, h]; t and s may be NULL (inference).
void synth_gate_forward(const float *z, size_t n, size_t h, float *t, float *s, float *a);
/// Backward of the gate: dz[:, :h] = da*s*(1-t^2), dz[:, h:] = da*t*s*(1-s). Overwrites dz [n, 2h].
void synth_gate_backward(const float *da, const float *t, const float *s, size_t n, size_t h, float *dz);

/// Softmax cross-entropy over n rows of v logits. Rows whose target is negative are ignored.
/// Writes d(loss)/d(logits) scaled by `scale` into dlogits (may alias logits) and returns the summed loss in nats.
double synth_softmax_xent(const float *logits, const int32_t *targets, size_t n, size_t v, float scale, float *dlogits);

/// In-place softmax of one row of v logits; returns log-sum-exp.
float synth_softmax_row(float *x, size_t v);

/// ReLU forward out = max(x, 0) (may alias).
void synth_relu(const float *x, size_t n, float *out);
/// ReLU backward: dx = dy where y > 0 else 0 (dx may alias dy).
void synth_relu_backward(const float *dy, const float *y, size_t n, float *dx);

/// y[o] = b[o] + sum_i x[i] * W[i, o] for row-major W [in, out]; y may not alias x. b may be NULL.
void synth_vecmat(const float *x, const float *W, const float *b, size_t in, size_t out, float *y);
/// y[o] += sum_i x[i] * W[i, o].
void synth_vecmat_acc(const float *x, const float *W, size_t in, size_t out, float *y);

/// Batched synth_vecmat_acc over selected rows: for each r in rows[0..<n], Y[r, :] += X[r, :] · W, with X rows
/// `ldx` floats apart and Y rows `ldy` floats apart, W row-major [in, out]. The arithmetic for each row is exactly
/// that of synth_vecmat_acc (same blocking and order), so a row's result does not depend on the other rows;
/// W is streamed once per block of 4 input rows for all selected rows (the point of batching).
void synth_vecmat_rows_acc(const float *X, size_t ldx, const float *W, size_t in, size_t out,
                           float *Y, size_t ldy, const int32_t *rows, size_t n);
/// Batched synth_vecmat: Y[r, :] = b + X[r, :] · W for each selected row (b may be NULL), bitwise equal to synth_vecmat.
void synth_vecmat_rows(const float *X, size_t ldx, const float *W, const float *b, size_t in, size_t out,
                       float *Y, size_t ldy, const int32_t *rows, size_t n);

/// Matrix-vector products for weights stored PyTorch-style as [out, in] (row o holds the weights into output o):
/// for each of n rows b, Y[b, o] += sum_i W[o, i] * X[b, i], with X rows `ldx` and Y rows `ldy` floats apart.
/// Each (b, o) is one dot product of length `in`, summed in the same order whatever n is, so a row's result does
/// not depend on the other rows; W's row o is read once per chunk of 8 rows and reused from cache. The sum is
/// reassociated (vector lanes, then a tree), so results differ from a sequential sum by rounding.
void synth_matvec_rows_acc(const float *W, size_t out, size_t in, const float *X, size_t ldx, size_t n,
                           float *Y, size_t ldy);

/// LSTM cell (PyTorch nn.LSTM) over n rows of H units. `gates` [n, 4H] holds the pre-activations in the order
/// (i, f, g, o) and is overwritten with sigmoid(i), sigmoid(f), tanh(g), sigmoid(o); then c = f*c_prev + i*g and
/// h = o*tanh(c). c_prev, c, tanh_c, h are [n, H]; c may alias c_prev; tanh_c may be NULL (inference).
void synth_lstm_cell_forward(float *gates, const float *c_prev, size_t n, size_t H, float *c, float *tanh_c,
                             float *h);
/// Backward of the LSTM cell for one step. Reads the activated `gates`, c_prev, tanh_c and dh [n, H] (the whole
/// gradient of h). `dc` [n, H] holds the gradient reaching c from later steps and is overwritten with the gradient
/// of c_prev. Overwrites dgates [n, 4H] with the gradient of the pre-activations.
void synth_lstm_cell_backward(const float *gates, const float *c_prev, const float *tanh_c, const float *dh,
                              float *dc, size_t n, size_t H, float *dgates);

/// GRU cell (PyTorch nn.GRU) over n rows of H units. `gi` [n, 3H] holds W_ih x + b_ih in the order (r, z, n) and is
/// overwritten with r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n); `gh` [n, 3H] is
/// W_hh h_prev + b_hh (read only). h = (1 - z) * n + z * h_prev; h may alias h_prev.
void synth_gru_cell_forward(float *gi, const float *gh, const float *h_prev, size_t n, size_t H, float *h);
/// Backward of the GRU cell for one step, from the activated gates (r, z, n) [n, 3H], gh, h_prev and dh [n, H].
/// Overwrites dgi [n, 3H] and dgh [n, 3H] (gradients of W_ih x + b_ih and of W_hh h_prev + b_hh) and
/// dh_prev [n, H] with the direct part dh * z (the caller adds dgh · W_hh).
void synth_gru_cell_backward(const float *gates, const float *gh, const float *h_prev, const float *dh, size_t n,
                             size_t H, float *dgi, float *dgh, float *dh_prev);

/// Fast, accurate (about 2 ulp over the float range) vectorisable exp, tanh and sigmoid.
float synth_expf(float x);
float synth_tanhf(float x);
float synth_sigmoidf(float x);
#endif

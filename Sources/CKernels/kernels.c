// Hot element-wise and small matrix kernels of synth's NN core (see include/synth_kernels.h).
#include "synth_kernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

// Runtime dispatch on x86-64 (ELF): each exported kernel is compiled twice, for x86-64-v3 (AVX2 + FMA: Intel
// from 2013, AMD from 2015) and for the x86-64 baseline (SSE2), and the dynamic loader picks the version the CPU
// can run when the program starts (an ifunc; `target_clones`, GCC and Clang). A binary built here therefore
// runs on any x86-64 CPU, at full speed on AVX2 ones. The shared bodies (`SYNTH_BODY`) are always inlined, so
// each version compiles them for its own target and never calls one built for another. Elsewhere (arm64,
// whose baseline has NEON; Mach-O, which has no ifuncs) the kernels are built once for the default target.
#if defined(__x86_64__) && defined(__ELF__)
#define SYNTH_DISPATCH __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SYNTH_DISPATCH
#endif
#define SYNTH_BODY static inline __attribute__((always_inline))

SYNTH_BODY float exp_approx(float x) {
    // exp(x) = 2^k * 2^f with k = round(x*log2(e)), polynomial for 2^f on [-0.5, 0.5] (Cephes-style).
    if (x > 88.0f) x = 88.0f;
    if (x < -87.0f) x = -87.0f;
    float t = x * 1.44269504088896341f;
    // round(t), half away from zero, by truncation: SSE2 converts with truncation, while roundf has no SSE2
    // instruction (the baseline build would call libm once per element).
    int32_t ki = (int32_t)(t + (t < 0 ? -0.5f : 0.5f));
    float k = (float)ki;
    float f = x - k * 0.693359375f - k * -2.12194440e-4f; // x - k*ln2, split for precision
    float p = 1.9875691500E-4f;
    p = p * f + 1.3981999507E-3f;
    p = p * f + 8.3334519073E-3f;
    p = p * f + 4.1665795894E-2f;
    p = p * f + 1.6666665459E-1f;
    p = p * f + 5.0000001201E-1f;
    p = p * f * f + f + 1.0f;
    union { uint32_t u; float f; } bits;
    bits.u = (uint32_t)(ki + 127) << 23;
    return p * bits.f;
}

SYNTH_BODY float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }
SYNTH_BODY float tanh_approx(float x) {
    // tanh(x) = sign(x) * (1 - e)/(1 + e), e = exp(-2|x|): no cancellation for large |x|.
    float ax = fabsf(x);
    if (ax < 0.0004f) return x; // tanh(x) ~ x - x^3/3; x^3/3 below float resolution here
    float e = exp_approx(-2.0f * ax);
    float r = (1.0f - e) / (1.0f + e);
    return x < 0 ? -r : r;
}

float synth_expf(float x) { return exp_approx(x); }
float synth_sigmoidf(float x) { return sigmoid_approx(x); }
float synth_tanhf(float x) { return tanh_approx(x); }

SYNTH_DISPATCH void synth_gate_forward(const float *z, size_t n, size_t h, float *t, float *s, float *a) {
    for (size_t r = 0; r < n; r++) {
        const float *zt = z + r * 2 * h;
        const float *zs = zt + h;
        float *ar = a + r * h;
        if (t && s) {
            float *tr = t + r * h, *sr = s + r * h;
            for (size_t i = 0; i < h; i++) {
                float tv = tanh_approx(zt[i]);
                float sv = sigmoid_approx(zs[i]);
                tr[i] = tv; sr[i] = sv; ar[i] = tv * sv;
            }
        } else {
            for (size_t i = 0; i < h; i++) ar[i] = tanh_approx(zt[i]) * sigmoid_approx(zs[i]);
        }
    }
}

SYNTH_DISPATCH void synth_gate_backward(const float *da, const float *t, const float *s, size_t n, size_t h, float *dz) {
    for (size_t r = 0; r < n; r++) {
        const float *dar = da + r * h, *tr = t + r * h, *sr = s + r * h;
        float *dzt = dz + r * 2 * h, *dzs = dzt + h;
        for (size_t i = 0; i < h; i++) {
            float tv = tr[i], sv = sr[i], g = dar[i];
            dzt[i] = g * sv * (1.0f - tv * tv);
            dzs[i] = g * tv * sv * (1.0f - sv);
        }
    }
}

SYNTH_BODY float softmax_row(float *x, size_t v) {
    float m = -INFINITY;
    for (size_t i = 0; i < v; i++) m = x[i] > m ? x[i] : m;
    float sum = 0;
    for (size_t i = 0; i < v; i++) { float e = exp_approx(x[i] - m); x[i] = e; sum += e; }
    float inv = 1.0f / sum;
    for (size_t i = 0; i < v; i++) x[i] *= inv;
    return m + logf(sum);
}

SYNTH_DISPATCH float synth_softmax_row(float *x, size_t v) { return softmax_row(x, v); }

SYNTH_DISPATCH double synth_softmax_xent(const float *logits, const int32_t *targets, size_t n, size_t v, float scale, float *dlogits) {
    double total = 0;
    for (size_t r = 0; r < n; r++) {
        const float *l = logits + r * v;
        float *d = dlogits + r * v;
        int tgt = targets[r];
        if (tgt < 0) { memset(d, 0, v * sizeof(float)); continue; }
        float target_logit = l[tgt];
        if (d != l) memcpy(d, l, v * sizeof(float));
        float lse = softmax_row(d, v);
        total += (double)(lse - target_logit);
        for (size_t i = 0; i < v; i++) d[i] *= scale;
        d[tgt] -= scale;
    }
    return total;
}

SYNTH_DISPATCH void synth_relu(const float *x, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = x[i] > 0 ? x[i] : 0;
}

SYNTH_DISPATCH void synth_relu_backward(const float *dy, const float *y, size_t n, float *dx) {
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}

SYNTH_BODY void vecmat_acc(const float *x, const float *W, size_t in, size_t out, float *y) {
    // Row-by-row axpy: streams W once, vectorises over `out`.
    size_t i = 0;
    for (; i + 4 <= in; i += 4) {
        const float x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
        const float *w0 = W + i * out, *w1 = w0 + out, *w2 = w1 + out, *w3 = w2 + out;
        for (size_t o = 0; o < out; o++) y[o] += x0 * w0[o] + x1 * w1[o] + x2 * w2[o] + x3 * w3[o];
    }
    for (; i < in; i++) {
        const float xi = x[i];
        const float *w = W + i * out;
        for (size_t o = 0; o < out; o++) y[o] += xi * w[o];
    }
}

SYNTH_DISPATCH void synth_vecmat_acc(const float *x, const float *W, size_t in, size_t out, float *y) {
    vecmat_acc(x, W, in, out, y);
}

SYNTH_DISPATCH void synth_vecmat(const float *x, const float *W, const float *b, size_t in, size_t out, float *y) {
    if (b) memcpy(y, b, out * sizeof(float)); else memset(y, 0, out * sizeof(float));
    vecmat_acc(x, W, in, out, y);
}

// Same per-element expression and input blocking as synth_vecmat_acc, so every row is bitwise equal to the
// single-row kernel. Up to four selected rows share each load of W (register blocking over rows).
SYNTH_BODY void vecmat_rows_acc(const float *X, size_t ldx, const float *W, size_t in, size_t out,
                                float *Y, size_t ldy, const int32_t *rows, size_t n) {
    size_t i = 0;
    for (; i + 4 <= in; i += 4) {
        const float *restrict w0 = W + i * out, *restrict w1 = w0 + out, *restrict w2 = w1 + out, *restrict w3 = w2 + out;
        size_t r = 0;
        for (; r + 4 <= n; r += 4) {
            const float *xa = X + (size_t)rows[r] * ldx + i, *xb = X + (size_t)rows[r + 1] * ldx + i;
            const float *xc = X + (size_t)rows[r + 2] * ldx + i, *xd = X + (size_t)rows[r + 3] * ldx + i;
            float *restrict ya = Y + (size_t)rows[r] * ldy, *restrict yb = Y + (size_t)rows[r + 1] * ldy;
            float *restrict yc = Y + (size_t)rows[r + 2] * ldy, *restrict yd = Y + (size_t)rows[r + 3] * ldy;
            const float a0 = xa[0], a1 = xa[1], a2 = xa[2], a3 = xa[3];
            const float b0 = xb[0], b1 = xb[1], b2 = xb[2], b3 = xb[3];
            const float c0 = xc[0], c1 = xc[1], c2 = xc[2], c3 = xc[3];
            const float d0 = xd[0], d1 = xd[1], d2 = xd[2], d3 = xd[3];
            for (size_t o = 0; o < out; o++) {
                const float v0 = w0[o], v1 = w1[o], v2 = w2[o], v3 = w3[o];
                ya[o] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3;
                yb[o] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3;
                yc[o] += c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3;
                yd[o] += d0 * v0 + d1 * v1 + d2 * v2 + d3 * v3;
            }
        }
        for (; r + 2 <= n; r += 2) {
            const float *xa = X + (size_t)rows[r] * ldx + i, *xb = X + (size_t)rows[r + 1] * ldx + i;
            float *restrict ya = Y + (size_t)rows[r] * ldy, *restrict yb = Y + (size_t)rows[r + 1] * ldy;
            const float a0 = xa[0], a1 = xa[1], a2 = xa[2], a3 = xa[3];
            const float b0 = xb[0], b1 = xb[1], b2 = xb[2], b3 = xb[3];
            for (size_t o = 0; o < out; o++) {
                const float v0 = w0[o], v1 = w1[o], v2 = w2[o], v3 = w3[o];
                ya[o] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3;
                yb[o] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3;
            }
        }
        for (; r < n; r++) {
            const float *x = X + (size_t)rows[r] * ldx + i;
            float *restrict y = Y + (size_t)rows[r] * ldy;
            const float x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
            for (size_t o = 0; o < out; o++) y[o] += x0 * w0[o] + x1 * w1[o] + x2 * w2[o] + x3 * w3[o];
        }
    }
    for (; i < in; i++) {
        const float *restrict w = W + i * out;
        for (size_t r = 0; r < n; r++) {
            const float xi = X[(size_t)rows[r] * ldx + i];
            float *restrict y = Y + (size_t)rows[r] * ldy;
            for (size_t o = 0; o < out; o++) y[o] += xi * w[o];
        }
    }
}

SYNTH_DISPATCH void synth_vecmat_rows_acc(const float *X, size_t ldx, const float *W, size_t in, size_t out,
                                          float *Y, size_t ldy, const int32_t *rows, size_t n) {
    vecmat_rows_acc(X, ldx, W, in, out, Y, ldy, rows, n);
}

SYNTH_DISPATCH void synth_vecmat_rows(const float *X, size_t ldx, const float *W, const float *b, size_t in, size_t out,
                                      float *Y, size_t ldy, const int32_t *rows, size_t n) {
    for (size_t r = 0; r < n; r++) {
        float *y = Y + (size_t)rows[r] * ldy;
        if (b) memcpy(y, b, out * sizeof(float)); else memset(y, 0, out * sizeof(float));
    }
    vecmat_rows_acc(X, ldx, W, in, out, Y, ldy, rows, n);
}

// Dot products of W's rows with each x row. The reduction only vectorises if the compiler may reorder the sum:
// clang's `fp reassociate` allows it in this function alone (lanes, then a tree), and the order is the same for
// every row, whatever n is. Other compilers build the sequential sum (correct, slower). Rows go in chunks of 8,
// so that each row of W is loaded once per chunk and reused from L1 (many rows: a window's input projection).
SYNTH_DISPATCH void synth_matvec_rows_acc(const float *W, size_t out, size_t in, const float *X, size_t ldx, size_t n,
                                          float *Y, size_t ldy) {
#ifdef __clang__
#pragma clang fp reassociate(on)
#endif
    for (size_t b0 = 0; b0 < n; b0 += 8) {
        size_t b1 = n - b0 < 8 ? n : b0 + 8;
        for (size_t o = 0; o < out; o++) {
            const float *w = W + o * in;
            for (size_t b = b0; b < b1; b++) {
                const float *x = X + b * ldx;
                float s = 0;
                for (size_t i = 0; i < in; i++) s += w[i] * x[i];
                Y[b * ldy + o] += s;
            }
        }
    }
}

SYNTH_DISPATCH void synth_lstm_cell_forward(float *gates, const float *c_prev, size_t n, size_t H, float *c,
                                            float *tanh_c, float *h) {
    for (size_t r = 0; r < n; r++) {
        float *gi = gates + r * 4 * H, *gf = gi + H, *gg = gf + H, *go = gg + H;
        const float *cp = c_prev + r * H;
        float *cr = c + r * H, *hr = h + r * H, *tr = tanh_c ? tanh_c + r * H : NULL;
        for (size_t j = 0; j < H; j++) {
            float i = sigmoid_approx(gi[j]), f = sigmoid_approx(gf[j]);
            float g = tanh_approx(gg[j]), o = sigmoid_approx(go[j]);
            gi[j] = i; gf[j] = f; gg[j] = g; go[j] = o;
            float cv = f * cp[j] + i * g, tc = tanh_approx(cv);
            cr[j] = cv; hr[j] = o * tc;
            if (tr) tr[j] = tc;
        }
    }
}

SYNTH_DISPATCH void synth_lstm_cell_backward(const float *gates, const float *c_prev, const float *tanh_c,
                                             const float *dh, float *dc, size_t n, size_t H, float *dgates) {
    for (size_t r = 0; r < n; r++) {
        const float *gi = gates + r * 4 * H, *gf = gi + H, *gg = gf + H, *go = gg + H;
        const float *cp = c_prev + r * H, *tc = tanh_c + r * H, *dhr = dh + r * H;
        float *dcr = dc + r * H, *di = dgates + r * 4 * H, *df = di + H, *dg = df + H, *dO = dg + H;
        for (size_t j = 0; j < H; j++) {
            float i = gi[j], f = gf[j], g = gg[j], o = go[j], t = tc[j], d = dhr[j];
            float dcv = dcr[j] + d * o * (1.0f - t * t);
            dO[j] = d * t * o * (1.0f - o);
            di[j] = dcv * g * i * (1.0f - i);
            df[j] = dcv * cp[j] * f * (1.0f - f);
            dg[j] = dcv * i * (1.0f - g * g);
            dcr[j] = dcv * f;
        }
    }
}

SYNTH_DISPATCH void synth_gru_cell_forward(float *gi, const float *gh, const float *h_prev, size_t n, size_t H,
                                           float *h) {
    for (size_t r = 0; r < n; r++) {
        float *ir = gi + r * 3 * H, *iz = ir + H, *in = iz + H;
        const float *hr = gh + r * 3 * H, *hz = hr + H, *hn = hz + H, *hp = h_prev + r * H;
        float *out = h + r * H;
        for (size_t j = 0; j < H; j++) {
            float rv = sigmoid_approx(ir[j] + hr[j]), zv = sigmoid_approx(iz[j] + hz[j]);
            float nv = tanh_approx(in[j] + rv * hn[j]);
            ir[j] = rv; iz[j] = zv; in[j] = nv;
            out[j] = (1.0f - zv) * nv + zv * hp[j];
        }
    }
}

SYNTH_DISPATCH void synth_gru_cell_backward(const float *gates, const float *gh, const float *h_prev, const float *dh,
                                            size_t n, size_t H, float *dgi, float *dgh, float *dh_prev) {
    for (size_t r = 0; r < n; r++) {
        const float *gr = gates + r * 3 * H, *gz = gr + H, *gn = gz + H;
        const float *hn = gh + r * 3 * H + 2 * H, *hp = h_prev + r * H, *dhr = dh + r * H;
        float *dir = dgi + r * 3 * H, *diz = dir + H, *din = diz + H;
        float *dhr_ = dgh + r * 3 * H, *dhz = dhr_ + H, *dhn = dhz + H, *dhp = dh_prev + r * H;
        for (size_t j = 0; j < H; j++) {
            float rv = gr[j], zv = gz[j], nv = gn[j], d = dhr[j];
            float dan = d * (1.0f - zv) * (1.0f - nv * nv);
            float daz = d * (hp[j] - nv) * zv * (1.0f - zv);
            float dar = dan * hn[j] * rv * (1.0f - rv);
            dir[j] = dar; diz[j] = daz; din[j] = dan;
            dhr_[j] = dar; dhz[j] = daz; dhn[j] = dan * rv;
            dhp[j] = d * zv;
        }
    }
}

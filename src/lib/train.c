/*
 * train.c: logistic regression by SGD with AdaGrad, and Platt calibration.
 *
 * Single-threaded on purpose: the order of updates is fixed by the seed, so a
 * model is a pure function of its data and options (bit-identical rebuilds of
 * the default model). The data sets are small (thousands of documents), so
 * this costs seconds, not minutes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct example {
    size_t off;          /* into idx/val */
    uint32_t n;
    signed char y[TS_NHEADS];
} example;

struct ts_dataset {
    ts_feat_config cfg;
    uint32_t nlex;
    example *ex;
    size_t nex, excap;
    float *lex;          /* nex * nlex */
    uint32_t *idx;       /* hashed features, all examples */
    float *val;
    size_t nnz, nnzcap;
};

int ts_dataset_create(const ts_feat_config *cfg, ts_dataset **out)
{
    *out = NULL;
    if (ts_feat_config_check(cfg, NULL))
        return TS_E_INVALID;
    ts_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return TS_E_NOMEM;
    d->cfg = *cfg;
    d->nlex = ts_feat_nlex(cfg);
    *out = d;
    return TS_OK;
}

void ts_dataset_free(ts_dataset *d)
{
    if (!d)
        return;
    free(d->ex);
    free(d->lex);
    free(d->idx);
    free(d->val);
    free(d);
}

size_t ts_dataset_size(const ts_dataset *d) { return d->nex; }

int ts_dataset_add(ts_dataset *d, const float *xlex, const ts_sparse *v, int y_score, int y_aligned)
{
    if (d->nex == d->excap) {
        size_t cap = d->excap ? d->excap * 2 : 256;
        example *ex = realloc(d->ex, cap * sizeof *ex);
        if (!ex)
            return TS_E_NOMEM;
        d->ex = ex;
        float *lex = realloc(d->lex, cap * d->nlex * sizeof *lex);
        if (!lex)
            return TS_E_NOMEM;
        d->lex = lex;
        d->excap = cap;
    }
    uint32_t n = v ? v->n : 0;
    if (d->nnz + n > d->nnzcap) {
        size_t cap = d->nnzcap ? d->nnzcap : 1 << 16;
        while (cap < d->nnz + n)
            cap *= 2;
        uint32_t *idx = realloc(d->idx, cap * sizeof *idx);
        if (!idx)
            return TS_E_NOMEM;
        d->idx = idx;
        float *val = realloc(d->val, cap * sizeof *val);
        if (!val)
            return TS_E_NOMEM;
        d->val = val;
        d->nnzcap = cap;
    }
    example *e = &d->ex[d->nex];
    e->off = d->nnz;
    e->n = n;
    e->y[0] = (signed char)(y_score != 0);
    e->y[1] = (signed char)(y_aligned != 0);
    memcpy(d->lex + d->nex * d->nlex, xlex, d->nlex * sizeof *xlex);
    if (n) {
        memcpy(d->idx + d->nnz, v->idx, n * sizeof *v->idx);
        memcpy(d->val + d->nnz, v->val, n * sizeof *v->val);
    }
    d->nnz += n;
    d->nex++;
    return TS_OK;
}

void ts_train_opts_default(ts_train_opts *o)
{
    memset(o, 0, sizeof *o);
    /* The recipe of the default model, chosen on the validation split
     * (data/README.md): 25 epochs, lr 0.5, L2 1e-6, no class weights. */
    o->epochs = 25;
    o->lr = 0.5;
    o->l2 = 1e-6;
    o->seed = 1;
    o->balance = 0;
    o->heads = 3;
}

/* splitmix64: a small, well-mixed PRNG that is the same everywhere. */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)); }

/* log loss of one prediction, clamped so a confident mistake stays finite. */
static double logloss(double z, int y)
{
    /* -log sigmoid(z) = log1p(exp(-z)), computed stably */
    double t = y ? -z : z;
    return t > 0 ? t + log1p(exp(-t)) : log1p(exp(t));
}

/* An example's sparse entries; NULL when it has none (a dataset of examples
 * without n-grams has no arrays, and NULL + 0 is undefined). */
static const uint32_t *ex_idx(const ts_dataset *d, const example *e) { return e->n ? d->idx + e->off : NULL; }
static const float *ex_val(const ts_dataset *d, const example *e) { return e->n ? d->val + e->off : NULL; }

/* Margins of both heads for example i (lexicon part + sparse part). */
static void margin(const ts_model *m, const ts_dataset *d, size_t i, double z[TS_NHEADS])
{
    const example *e = &d->ex[i];
    ts_sparse v = {e->n, e->n, e->n ? d->idx + e->off : NULL, e->n ? d->val + e->off : NULL};
    ts_model_margin(m, d->lex + i * d->nlex, &v, z);
}

/* SGD: folds head h's scale into its weights. */
static void unscale(ts_model *m, size_t nw, int h, double *scale)
{
    if (*scale == 1.0)
        return;
    for (size_t wi = (size_t)h; wi < nw; wi += TS_NHEADS)
        m->w[wi] = (float)(m->w[wi] * *scale);
    *scale = 1.0;
}

static void mean_loss(const ts_model *m, const ts_dataset *d, double out[TS_NHEADS])
{
    double s[TS_NHEADS] = {0, 0};
    for (size_t i = 0; i < d->nex; i++) {
        double z[TS_NHEADS];
        margin(m, d, i, z);
        for (int h = 0; h < TS_NHEADS; h++)
            s[h] += logloss(z[h], d->ex[i].y[h]);
    }
    for (int h = 0; h < TS_NHEADS; h++)
        out[h] = d->nex ? s[h] / (double)d->nex : -1;
}

int ts_platt_fit(const double *z, const int *y, size_t n, double *a_out, double *b_out)
{
    /* Lin, Lin and Weng (2007), "A note on Platt's probabilistic outputs":
     * Newton's method with backtracking, on smoothed targets. */
    double np = 0, nn = 0;
    for (size_t i = 0; i < n; i++)
        if (y[i])
            np += 1;
        else
            nn += 1;
    *a_out = 1;
    *b_out = 0;
    if (np == 0 || nn == 0)
        return TS_OK;
    double hi = (np + 1) / (np + 2), lo = 1 / (nn + 2);
    double a = 0, b = log((nn + 1) / (np + 1));
    const double sigma = 1e-12, eps = 1e-5;
#define PLATT_F(A, B, OUT)                                              \
    do {                                                                \
        double f_ = 0;                                                  \
        for (size_t i = 0; i < n; i++) {                                \
            double t_ = y[i] ? hi : lo;                                 \
            double fa_ = z[i] * (A) + (B);                              \
            /* platt's sigmoid is 1/(1+exp(fa)) */                      \
            if (fa_ >= 0)                                               \
                f_ += t_ * fa_ + log1p(exp(-fa_));                      \
            else                                                        \
                f_ += (t_ - 1) * fa_ + log1p(exp(fa_));                 \
        }                                                               \
        (OUT) = f_;                                                     \
    } while (0)
    double fval;
    PLATT_F(a, b, fval);
    for (int it = 0; it < 100; it++) {
        double h11 = sigma, h22 = sigma, h21 = 0, g1 = 0, g2 = 0;
        for (size_t i = 0; i < n; i++) {
            double t = y[i] ? hi : lo;
            double fa = z[i] * a + b, p, q;
            if (fa >= 0) {
                p = exp(-fa) / (1 + exp(-fa));
                q = 1 / (1 + exp(-fa));
            } else {
                p = 1 / (1 + exp(fa));
                q = exp(fa) / (1 + exp(fa));
            }
            double d2 = p * q;
            h11 += z[i] * z[i] * d2;
            h22 += d2;
            h21 += z[i] * d2;
            double d1 = t - p;
            g1 += z[i] * d1;
            g2 += d1;
        }
        if (fabs(g1) < eps && fabs(g2) < eps)
            break;
        double det = h11 * h22 - h21 * h21;
        double da = -(h22 * g1 - h21 * g2) / det;
        double db = -(-h21 * g1 + h11 * g2) / det;
        double gd = g1 * da + g2 * db;
        double step = 1;
        while (step >= 1e-10) {
            double na = a + step * da, nb = b + step * db, nf;
            PLATT_F(na, nb, nf);
            if (nf < fval + 1e-4 * step * gd) {
                a = na;
                b = nb;
                fval = nf;
                break;
            }
            step /= 2;
        }
        if (step < 1e-10)
            break;
    }
#undef PLATT_F
    /* Platt's form is 1/(1+exp(A z + B)); ours is sigmoid(a z + b). */
    *a_out = -a;
    *b_out = -b;
    return TS_OK;
}

/* One AdaGrad step of head h on example i, whose loss has gradient g at the
 * margin: the L2 penalty only on the weights the example touches. G holds the
 * squared-gradient sums of the weights, then of the biases. */
static void adagrad_step(ts_model *m, const ts_dataset *d, size_t i, int h, double g, double lr,
                         double l2, double *G, size_t nw)
{
    const double eps = 1e-8;
    const example *e = &d->ex[i];
    const float *xl = d->lex + i * d->nlex;
    const uint32_t *idx = ex_idx(d, e);
    const float *val = ex_val(d, e);
    float *wb = m->w + (size_t)TS_NHEADS * d->nlex;
    double *Gb = G + (size_t)TS_NHEADS * d->nlex;
    for (uint32_t f = 0; f < d->nlex; f++) {
        if (xl[f] == 0)
            continue;
        size_t wi = (size_t)TS_NHEADS * f + h;
        double gr = g * xl[f] + l2 * m->w[wi];
        G[wi] += gr * gr;
        m->w[wi] -= (float)(lr * gr / sqrt(G[wi] + eps));
    }
    for (uint32_t f = 0; f < e->n; f++) {
        size_t wi = (size_t)TS_NHEADS * idx[f] + h;
        double gr = g * val[f] + l2 * wb[wi];
        Gb[wi] += gr * gr;
        wb[wi] -= (float)(lr * gr / sqrt(Gb[wi] + eps));
    }
    double *gbias = &G[nw + h];
    *gbias += g * g;
    m->bias[h] -= (float)(lr * g / sqrt(*gbias + eps));
}

/* One SGD step of head h on example i (gradient g, step eta): every weight of
 * the head decays, through *scale, and the example's move. */
static void sgd_step(ts_model *m, const ts_dataset *d, size_t i, int h, double g, double eta, double l2,
                     size_t nw, double *scale)
{
    const example *e = &d->ex[i];
    const float *xl = d->lex + i * d->nlex;
    const uint32_t *idx = ex_idx(d, e);
    const float *val = ex_val(d, e);
    float *wb = m->w + (size_t)TS_NHEADS * d->nlex;
    *scale *= 1.0 - eta * l2;
    double u = eta * g / *scale;
    for (uint32_t f = 0; f < d->nlex; f++)
        if (xl[f] != 0)
            m->w[(size_t)TS_NHEADS * f + h] -= (float)(u * xl[f]);
    for (uint32_t f = 0; f < e->n; f++)
        wb[(size_t)TS_NHEADS * idx[f] + h] -= (float)(u * val[f]);
    /* The bias is not penalised and moves slower, as in scikit-learn's SGD
     * on sparse data (intercept decay 0.01). */
    m->bias[h] -= (float)(0.01 * eta * g);
    if (*scale < 1e-6)
        unscale(m, nw, h, scale);
}

int ts_train(const ts_train_opts *o, const ts_dataset *train, const ts_dataset *valid,
             ts_model **out)
{
    *out = NULL;
    if (!train || train->nex == 0 || (valid && memcmp(&valid->cfg, &train->cfg, sizeof train->cfg)))
        return TS_E_INVALID;
    ts_model *m;
    int err = ts_model_new(&train->cfg, &m);
    if (err)
        return err;
    const ts_dataset *d = train;
    const size_t nw = (size_t)TS_NHEADS * ts_feat_nfeat(&d->cfg);
    double *G = calloc(nw + TS_NHEADS, sizeof *G);    /* AdaGrad sums, then the biases' */
    size_t *order = malloc(d->nex * sizeof *order);
    int *yv = NULL;
    double *zv = NULL;
    if (!G || !order) {
        err = TS_E_NOMEM;
        goto done;
    }
    /* Which heads learn, and class weights. */
    int train_head[TS_NHEADS] = {0, 0};
    double cw[TS_NHEADS][2];
    for (int h = 0; h < TS_NHEADS; h++) {
        size_t pos = 0;
        for (size_t i = 0; i < d->nex; i++)
            pos += d->ex[i].y[h];
        train_head[h] = (o->heads >> h & 1) && pos > 0;
        cw[h][0] = cw[h][1] = 1;
        if (o->balance && pos > 0 && pos < d->nex) {
            cw[h][1] = (double)d->nex / (2.0 * (double)pos);
            cw[h][0] = (double)d->nex / (2.0 * (double)(d->nex - pos));
        }
    }
    if (!train_head[0] && !train_head[1]) {
        err = TS_E_INVALID;   /* no positive label for any head */
        goto done;
    }
    m->flags = (train_head[1] ? TS_MODEL_ALIGNED : 0) | (o->cascade ? TS_MODEL_CASCADE : 0);
    for (size_t i = 0; i < d->nex; i++)
        order[i] = i;
    uint64_t rng = o->seed;
    const double lr = o->lr, l2 = o->l2;
    /* SGD: the weights of head h are scale[h] times what m->w holds. */
    double scale[TS_NHEADS] = {1, 1};
    const double typw = sqrt(1.0 / sqrt(l2 > 0 ? l2 : 1e-12));
    const double t0 = 1.0 / ((l2 > 0 ? l2 : 1e-12) * typw);
    double step = 0;
    for (uint32_t ep = 0; ep < o->epochs; ep++) {
        for (size_t i = d->nex; i > 1; i--) {
            size_t j = (size_t)(splitmix64(&rng) % i);
            size_t t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        double tl[TS_NHEADS] = {0, 0};
        for (size_t k = 0; k < d->nex; k++) {
            size_t i = order[k];
            const example *e = &d->ex[i];
            double z[TS_NHEADS];
            margin(m, d, i, z);
            double eta = 0;
            if (o->optimizer == TS_OPT_SGD) {
                for (int h = 0; h < TS_NHEADS; h++)
                    z[h] = m->bias[h] + scale[h] * (z[h] - m->bias[h]);
                eta = 1.0 / (l2 * (t0 + step));
                step += 1;
            }
            for (int h = 0; h < TS_NHEADS; h++) {
                if (!train_head[h])
                    continue;
                int y = e->y[h];
                tl[h] += logloss(z[h], y);
                double g = (sigmoid(z[h]) - y) * cw[h][y];
                if (o->optimizer == TS_OPT_SGD)
                    sgd_step(m, d, i, h, g, eta, l2, nw, &scale[h]);
                else
                    adagrad_step(m, d, i, h, g, lr, l2, G, nw);
            }
        }
        for (int h = 0; h < TS_NHEADS; h++)
            unscale(m, nw, h, &scale[h]);
        if (o->progress) {
            double vl[TS_NHEADS] = {-1, -1};
            for (int h = 0; h < TS_NHEADS; h++)
                tl[h] = train_head[h] ? tl[h] / (double)d->nex : -1;
            if (valid && valid->nex) {
                mean_loss(m, valid, vl);
                for (int h = 0; h < TS_NHEADS; h++)
                    if (!train_head[h])
                        vl[h] = -1;
            }
            o->progress(o->ctx, ep + 1, tl, vl);
        }
    }
    /* Platt calibration on the validation set (held out from the SGD). */
    const ts_dataset *cal = valid && valid->nex ? valid : train;
    yv = malloc(cal->nex * sizeof *yv);
    zv = malloc(cal->nex * TS_NHEADS * sizeof *zv);
    if (!yv || !zv) {
        err = TS_E_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < cal->nex; i++)
        margin(m, cal, i, zv + TS_NHEADS * i);
    for (int h = 0; h < TS_NHEADS; h++) {
        if (!train_head[h])
            continue;
        double *zh = malloc(cal->nex * sizeof *zh);
        if (!zh) {
            err = TS_E_NOMEM;
            goto done;
        }
        for (size_t i = 0; i < cal->nex; i++) {
            zh[i] = zv[TS_NHEADS * i + h];
            yv[i] = cal->ex[i].y[h];
        }
        double a, b;
        ts_platt_fit(zh, yv, cal->nex, &a, &b);
        free(zh);
        m->platt_a[h] = (float)a;
        m->platt_b[h] = (float)b;
    }
done:
    free(G);
    free(order);
    free(yv);
    free(zv);
    if (err) {
        ts_model_free(m);
        return err;
    }
    *out = m;
    return TS_OK;
}

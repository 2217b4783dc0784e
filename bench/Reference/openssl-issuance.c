/*
 * The OpenSSL floor of benchmark 4, as a C program would reach it: per X509-SVID, decode the CSR (which decodes
 * its public key), verify the CSR's signature with that key, and sign a certificate-sized TBS with the CA key.
 * It prints one key=value line per figure:
 *   decode_us, verify_us, sign_us  CPU time of each step alone, on one thread (CLOCK_THREAD_CPUTIME_ID)
 *   svids_per_second               the three steps per SVID on THREADS threads (the CA key shared, as a server's)
 * `openssl speed ecdsap256` measures sign and verify with keys already decoded; on OpenSSL 3 decoding a public
 * key goes through the provider decoders, which is what this program adds to the picture.
 * Usage: bench-openssl-issuance SECONDS THREADS
 */
#define _POSIX_C_SOURCE 200809L
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CSR_COUNT 64
#define TBS_LENGTH 450

static unsigned char *csr_der[CSR_COUNT];
static int csr_length[CSR_COUNT];
static X509_REQ *csr_decoded[CSR_COUNT];
static EVP_PKEY *ca_key;
static unsigned char tbs[TBS_LENGTH];
static double run_seconds;
static long issued_total;
static pthread_mutex_t issued_lock = PTHREAD_MUTEX_INITIALIZER;

static double seconds_of(clockid_t clock)
{
    struct timespec now;
    clock_gettime(clock, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void fail(const char *what)
{
    fprintf(stderr, "bench-openssl-issuance: %s failed\n", what);
    exit(1);
}

static X509_REQ *decode(int i)
{
    const unsigned char *in = csr_der[i];
    X509_REQ *request = d2i_X509_REQ(NULL, &in, csr_length[i]);
    if (request == NULL || X509_REQ_get0_pubkey(request) == NULL) {
        fail("d2i_X509_REQ");
    }
    return request;
}

static void verify(X509_REQ *request)
{
    if (X509_REQ_verify(request, X509_REQ_get0_pubkey(request)) != 1) {
        fail("X509_REQ_verify");
    }
}

static void sign(void)
{
    unsigned char signature[80];
    size_t length = sizeof(signature);
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    if (context == NULL || EVP_DigestSignInit(context, NULL, EVP_sha256(), NULL, ca_key) != 1
        || EVP_DigestSign(context, signature, &length, tbs, sizeof(tbs)) != 1) {
        fail("EVP_DigestSign");
    }
    EVP_MD_CTX_free(context);
}

/* CPU microseconds per call of step (0 decode, 1 verify, 2 sign) on this thread, over a quarter of the run. */
static double microseconds_per_call(int step)
{
    double end = seconds_of(CLOCK_MONOTONIC) + run_seconds / 4;
    double cpu = seconds_of(CLOCK_THREAD_CPUTIME_ID);
    long calls = 0;
    for (; seconds_of(CLOCK_MONOTONIC) < end; calls++) {
        int i = (int)(calls % CSR_COUNT);
        if (step == 0) {
            X509_REQ_free(decode(i));
        } else if (step == 1) {
            verify(csr_decoded[i]);
        } else {
            sign();
        }
    }
    return (seconds_of(CLOCK_THREAD_CPUTIME_ID) - cpu) * 1e6 / (double)calls;
}

static void *issue(void *argument)
{
    double end = *(double *)argument;
    long mine = 0;
    for (; seconds_of(CLOCK_MONOTONIC) < end; mine++) {
        X509_REQ *request = decode((int)(mine % CSR_COUNT));
        verify(request);
        X509_REQ_free(request);
        sign();
    }
    pthread_mutex_lock(&issued_lock);
    issued_total += mine;
    pthread_mutex_unlock(&issued_lock);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (run_seconds = atof(argv[1])) <= 0 || atoi(argv[2]) <= 0) {
        fprintf(stderr, "usage: bench-openssl-issuance SECONDS THREADS\n");
        return 2;
    }
    int threads = atoi(argv[2]);

    ca_key = EVP_EC_gen("P-256");
    if (ca_key == NULL || RAND_bytes(tbs, sizeof(tbs)) != 1) {
        fail("CA key generation");
    }
    for (int i = 0; i < CSR_COUNT; i++) {
        EVP_PKEY *key = EVP_EC_gen("P-256");
        X509_REQ *request = X509_REQ_new();
        X509_NAME *name = X509_NAME_new();
        if (key == NULL || request == NULL || name == NULL
            || X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"bench", -1, -1, 0) != 1
            || X509_REQ_set_subject_name(request, name) != 1 || X509_REQ_set_pubkey(request, key) != 1
            || X509_REQ_sign(request, key, EVP_sha256()) <= 0) {
            fail("CSR creation");
        }
        csr_der[i] = NULL;
        csr_length[i] = i2d_X509_REQ(request, &csr_der[i]);
        if (csr_length[i] <= 0) {
            fail("i2d_X509_REQ");
        }
        csr_decoded[i] = decode(i);
        X509_NAME_free(name);
        X509_REQ_free(request);
        EVP_PKEY_free(key);
    }

    printf("decode_us=%.1f\n", microseconds_per_call(0));
    printf("verify_us=%.1f\n", microseconds_per_call(1));
    printf("sign_us=%.1f\n", microseconds_per_call(2));

    pthread_t *workers = calloc((size_t)threads, sizeof(pthread_t));
    double start = seconds_of(CLOCK_MONOTONIC);
    double end = start + run_seconds / 4;
    for (int t = 0; t < threads; t++) {
        if (workers == NULL || pthread_create(&workers[t], NULL, issue, &end) != 0) {
            fail("pthread_create");
        }
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(workers[t], NULL);
    }
    printf("svids_per_second=%.0f\n", (double)issued_total / (seconds_of(CLOCK_MONOTONIC) - start));
    return 0;
}

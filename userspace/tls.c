// SPDX-License-Identifier: Apache-2.0
/* tls: contexts and the agent's own certificate. See tls.h. */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define CERT_DAYS 3650

const char *tls_error(void)
{
	static char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (!e)
		return "unknown TLS error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EINVAL;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

/* A certificate for key, signed by issuer_key (issuer NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
		       int is_ca)
{
	X509 *cert = X509_new();
	X509_NAME *name;
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	int err = 0;

	if (!cert)
		return NULL;
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	name = X509_get_subject_name(cert);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) ||
	    !X509_set_version(cert, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), (long)CERT_DAYS * 86400) ||
	    !X509_set_pubkey(cert, key) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"sluice", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name))
		err = -EINVAL;
	if (!err && is_ca)
		err = add_ext(cert, issuer ? issuer : cert, NID_basic_constraints, "critical,CA:TRUE") ||
		      add_ext(cert, issuer ? issuer : cert, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (!err && !is_ca)
		err = add_ext(cert, issuer, NID_subject_alt_name,
			      "DNS:localhost,IP:127.0.0.1,IP:::1") ||
		      add_ext(cert, issuer, NID_ext_key_usage, "serverAuth");
	if (!err && !X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()))
		err = -EINVAL;
	BN_free(bn);
	if (err) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

static int write_pem(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -errno;
	}
	ok = cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
	fclose(f);
	if (!ok || rename(tmp, path)) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

/* Make STATE_DIR/tls/{ca.crt,agent.crt,agent.key} once. */
static int make_agent_cert(const char *dir, const char *crt, const char *key_path,
			   const char *ca_path)
{
	EVP_PKEY *ca_key = new_key(), *key = new_key();
	X509 *ca = NULL, *cert = NULL;
	int err = -ENOMEM;

	if (!ca_key || !key)
		goto out;
	ca = make_cert(ca_key, "sluice agent CA", NULL, NULL, 1);
	cert = ca ? make_cert(key, "sluice agent", ca, ca_key, 0) : NULL;
	if (!cert)
		goto out;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		goto out;
	}
	/* The CA's key is not kept: nothing else is ever signed with it. */
	err = write_pem(key_path, 0600, NULL, key);
	if (!err)
		err = write_pem(crt, 0644, cert, NULL);
	if (!err)
		err = write_pem(ca_path, 0644, ca, NULL);
	if (!err)
		log_info("made the agent's TLS certificate in %s (CA: %s)", dir, ca_path);
out:
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return err;
}

int tls_server_ctx(const char *state_dir, SSL_CTX **out)
{
	char dir[PATH_MAX], crt[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
	SSL_CTX *ctx;
	int err;

	if (strlen(state_dir) > PATH_MAX - 32) {
		log_err("state_dir %s: path too long", state_dir);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s/tls", state_dir);
	snprintf(crt, sizeof(crt), "%s/tls/agent.crt", state_dir);
	snprintf(key, sizeof(key), "%s/tls/agent.key", state_dir);
	snprintf(ca, sizeof(ca), "%s/tls/ca.crt", state_dir);
	if (access(crt, R_OK) || access(key, R_OK)) {
		if (mkdir(state_dir, 0700) && errno != EEXIST) {
			log_err("failed to create %s: %s", state_dir, strerror(errno));
			return -errno;
		}
		err = make_agent_cert(dir, crt, key, ca);
		if (err) {
			log_err("failed to make the agent's TLS certificate in %s: %s", dir,
				err == -EINVAL ? tls_error() : strerror(-err));
			return err;
		}
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_err("failed to load the agent's TLS certificate %s: %s", crt, tls_error());
		SSL_CTX_free(ctx);
		return -EINVAL;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
	*out = ctx;
	return 0;
}

int tls_client_ctx(const char *ca_file, SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		SSL_CTX_free(ctx);
		return -ENOMEM;
	}
	if (ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			log_err("failed to load CA %s: %s", ca_file, tls_error());
			SSL_CTX_free(ctx);
			return -EINVAL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	*out = ctx;
	return 0;
}

int tls_expect_ip(SSL *ssl, const char *ip)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

	return X509_VERIFY_PARAM_set1_ip_asc(param, ip) == 1 ? 0 : -EINVAL;
}

int tls_server_end_point(SSL *ssl, uint8_t *out, size_t cap, size_t *len)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	const EVP_MD *md;
	unsigned n = 0;
	int algo = 0, ok;

	if (!cert)
		return -ENOENT;
	if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &algo, NULL))
		algo = NID_sha256;
	if (algo == NID_md5 || algo == NID_sha1)
		algo = NID_sha256;
	md = EVP_get_digestbynid(algo);
	if (!md)
		md = EVP_sha256();
	ok = (size_t)EVP_MD_get_size(md) <= cap && X509_digest(cert, md, out, &n);
	X509_free(cert);
	if (!ok)
		return -EINVAL;
	*len = n;
	return 0;
}

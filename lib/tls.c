/*
 * Trust. TLS is always verified. A ca_file adds anchors to the system's
 * bundle rather than replacing it, so an operator who adds a proxy's CA does
 * not lose the public roots: the bundle and the file are joined into one PEM
 * blob handed to libcurl (CURLOPT_CAINFO_BLOB). Blobs are cached per path and
 * rebuilt when the file changes on disk. libcurl is given the cached blob
 * itself, not a copy (a copy per waiting transfer was hundreds of MiB with
 * 1,000 tenants): each transfer holds a reference until it ends, so a
 * rebuild never frees a blob a transfer may still read.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "http-internal.h"
#include "http.h"
#include "log.h"
#include "xmalloc.h"

#define TLS_FALLBACK_BUNDLE	"/etc/ssl/certs/ca-certificates.crt"
#define TLS_MAX_PEM		(16 * 1024 * 1024)

/* A file as we last read it. */
struct tls_file {
	char		*path;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	char		*data;
	size_t		 len;
};

/* Bundle + ca_file, as libcurl reads it. */
struct tls_blob {
	unsigned		 refs;
	char			*data;
	size_t			 len;
};

struct tls_anchor {
	struct tls_file		 file;		/* the ca_file */
	unsigned long		 system_gen;	/* bundle it was joined with */
	struct tls_blob		*blob;		/* one reference */
	LIST_ENTRY(tls_anchor)	 entry;
};

struct tls_cache {
	struct tls_file		 system;
	unsigned long		 system_gen;	/* bumped at each reload */
	int			 system_warned;
	LIST_HEAD(, tls_anchor)	 anchors;
};

struct tls_cache *
tls_cache_new(void)
{
	struct tls_cache	*tc;

	tc = xcalloc(1, sizeof *tc);
	LIST_INIT(&tc->anchors);
	return tc;
}

void
http_tls_release(struct tls_blob *b)
{
	if (b == NULL || --b->refs > 0)
		return;
	free(b->data);
	free(b);
}

static void
tls_file_clear(struct tls_file *f)
{
	free(f->data);
	f->data = NULL;
	f->len = 0;
	f->size = -1;
}

void
tls_cache_free(struct tls_cache *tc)
{
	struct tls_anchor	*a;

	if (tc == NULL)
		return;
	while ((a = LIST_FIRST(&tc->anchors)) != NULL) {
		LIST_REMOVE(a, entry);
		tls_file_clear(&a->file);
		free(a->file.path);
		http_tls_release(a->blob);
		free(a);
	}
	tls_file_clear(&tc->system);
	free(tc->system.path);
	free(tc);
}

/* Returns 1 when the file changed since f was read (or was never read),
 * 0 when it did not, -1 with errno when it cannot be looked at. */
static int
tls_file_changed(const struct tls_file *f, const char *path, struct stat *sb)
{
	if (stat(path, sb) == -1)
		return -1;
	if (f->data == NULL || f->path == NULL || strcmp(f->path, path) != 0)
		return 1;
	return sb->st_dev != f->dev || sb->st_ino != f->ino ||
	    sb->st_size != f->size ||
	    sb->st_mtim.tv_sec != f->mtime.tv_sec ||
	    sb->st_mtim.tv_nsec != f->mtime.tv_nsec;
}

/* Reads path into f. Returns 0, or -1 with errno. */
static int
tls_file_load(struct tls_file *f, const char *path)
{
	struct stat	 sb;
	char		*data = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1)
		goto fail;
	if (!S_ISREG(sb.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (sb.st_size > TLS_MAX_PEM) {
		errno = EFBIG;
		goto fail;
	}
	data = xmalloc((size_t)sb.st_size + 1);
	/* The size may change under us: read what is there now, bounded. */
	while (len < (size_t)sb.st_size) {
		n = read(fd, data + len, (size_t)sb.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	data[len] = '\0';
	close(fd);
	tls_file_clear(f);
	if (f->path == NULL || strcmp(f->path, path) != 0) {
		free(f->path);
		f->path = xstrdup(path);
	}
	f->dev = sb.st_dev;
	f->ino = sb.st_ino;
	f->size = sb.st_size;
	f->mtime = sb.st_mtim;
	f->data = data;
	f->len = len;
	return 0;

fail:
	saved = errno;
	free(data);
	close(fd);
	errno = saved;
	return -1;
}

/* Counts the certificates in a PEM text; -1 when one is corrupt. */
static int
tls_count_certs(const char *data, size_t len)
{
	BIO		*bio;
	X509		*x;
	unsigned long	 e;
	int		 n = 0;

	if (len > INT32_MAX)
		return -1;
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		fatalx("%s: BIO_new_mem_buf failed", __func__);
	ERR_clear_error();
	/* PEM_read_bio_X509 skips blocks that are not certificates. */
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	e = ERR_peek_last_error();
	if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
		n = -1;
	ERR_clear_error();
	BIO_free(bio);
	return n;
}

/* The system bundle, reloaded when it changes. Never fails: without it
 * the ca_file alone is trusted, which still verifies every peer. */
static void
tls_system_bundle(struct tls_cache *tc)
{
	const curl_version_info_data	*vi;
	const char			*path = NULL;
	struct stat			 sb;
	int				 changed;

	vi = curl_version_info(CURLVERSION_NOW);
	if (vi != NULL && vi->cainfo != NULL && access(vi->cainfo, R_OK) == 0)
		path = vi->cainfo;
	else
		path = TLS_FALLBACK_BUNDLE;
	changed = tls_file_changed(&tc->system, path, &sb);
	if (changed == 0)
		return;
	if (changed == 1 && tls_file_load(&tc->system, path) == 0) {
		tc->system_gen++;
		tc->system_warned = 0;
		return;
	}
	if (!tc->system_warned)
		log_warn("system CA bundle %s", path);
	tc->system_warned = 1;
	if (tc->system.data != NULL) {
		tls_file_clear(&tc->system);
		tc->system_gen++;
	}
}

static struct tls_anchor *
tls_anchor_find(struct tls_cache *tc, const char *path)
{
	struct tls_anchor	*a;

	LIST_FOREACH(a, &tc->anchors, entry) {
		if (strcmp(a->file.path, path) == 0)
			return a;
	}
	a = xcalloc(1, sizeof *a);
	a->file.path = xstrdup(path);
	a->file.size = -1;
	LIST_INSERT_HEAD(&tc->anchors, a, entry);
	return a;
}

/* The joined blob for a ca_file, rebuilt when either part changed. */
static int
tls_anchor_blob(struct tls_cache *tc, const char *path,
    struct tls_anchor **out, char **err)
{
	struct tls_anchor	*a;
	struct stat		 sb;
	size_t			 slen;
	int			 changed, n;

	tls_system_bundle(tc);
	a = tls_anchor_find(tc, path);
	if ((changed = tls_file_changed(&a->file, path, &sb)) == -1) {
		*err = xasprintf("ca_file %s: %s", path, strerror(errno));
		tls_file_clear(&a->file);
		return -1;
	}
	if (changed) {
		http_tls_release(a->blob);
		a->blob = NULL;
		if (tls_file_load(&a->file, path) == -1) {
			*err = xasprintf("ca_file %s: %s", path,
			    strerror(errno));
			return -1;
		}
	}
	/* Checked each time, so a bad file keeps failing until fixed. */
	if ((n = tls_count_certs(a->file.data, a->file.len)) <= 0) {
		*err = xasprintf("ca_file %s: %s", path, n == 0 ?
		    "no PEM certificate in it" : "a certificate is corrupt");
		tls_file_clear(&a->file);
		return -1;
	}
	if (a->blob == NULL || a->system_gen != tc->system_gen) {
		http_tls_release(a->blob);
		slen = tc->system.data != NULL ? tc->system.len : 0;
		a->blob = xcalloc(1, sizeof *a->blob);
		a->blob->refs = 1;
		a->blob->len = slen + 1 + a->file.len;
		a->blob->data = xmalloc(a->blob->len + 1);
		if (slen > 0)
			memcpy(a->blob->data, tc->system.data, slen);
		/* A bundle without a final newline must not glue two
		 * PEM lines together. */
		a->blob->data[slen] = '\n';
		memcpy(a->blob->data + slen + 1, a->file.data, a->file.len);
		a->blob->data[a->blob->len] = '\0';
		a->system_gen = tc->system_gen;
	}
	*out = a;
	return 0;
}

int
http_tls_apply(struct http_engine *e, CURL *easy, const char *ca_file,
    struct tls_blob **held, char **err)
{
	struct tls_anchor	*a;
	struct curl_blob	 blob;

	*err = NULL;
	if (held != NULL)
		*held = NULL;
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2);
	if (ca_file == NULL || *ca_file == '\0')
		return 0;
	if (tls_anchor_blob(http_engine_tls(e), ca_file, &a, err) == -1)
		return -1;
	blob.data = a->blob->data;
	blob.len = a->blob->len;
	/* Without a holder the cache may rebuild it meanwhile: a copy. */
	blob.flags = held != NULL ? CURL_BLOB_NOCOPY : CURL_BLOB_COPY;
	if (curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK) {
		*err = xasprintf("ca_file %s: this libcurl cannot take a CA "
		    "blob", ca_file);
		return -1;
	}
	if (held != NULL) {
		a->blob->refs++;
		*held = a->blob;
	}
	return 0;
}

/*
 * gendump - deterministic synthetic input data for the coffer benchmark.
 *
 *   gendump dump [-s MB] [-S SEED] [-c PCT] [-C CHANGE_SEED]
 *                [-m clustered|uniform] [-L MIN-MAX]  > dump.sql
 *       Writes a stream that looks like a PostgreSQL plain-text dump
 *       (schema, then one COPY block per table, then indexes).
 *       With -c PCT, about PCT percent of all rows are changed, as the same
 *       database would look after some activity.  -m picks how:
 *
 *       clustered (default): changes come in runs of consecutive rows of
 *         one table (MIN..MAX rows each, default 20-400, uniform), like an
 *         UPDATE of a batch of related rows.  The runs start at random
 *         places all over the stream (exponential gaps, with the mean set
 *         so that PCT% of rows fall in a run).  Inside a run, most rows get
 *         a few characters changed in place; about 10% are "moved" (as
 *         PostgreSQL writes an updated row's new version elsewhere, usually
 *         at the end of the table): removed from their place and appended,
 *         changed, at the end of their table's COPY block; about 2% are
 *         deleted.  Each table also gets new rows (ids after the last one)
 *         at its end, about 10% as many as it has changed rows.  So the
 *         stream's length and layout shift, as with a real dump.
 *       uniform: every row is changed independently with probability PCT%
 *         (one row about every 18 KB at 1%), a few characters in place.
 *         Every row keeps its length, so size and layout stay the same.
 *
 *       The unchanged rows are identical to those of the stream without -c.
 *
 *   gendump tree DIR [-s MB] [-S SEED]
 *       Creates about MB MiB of files (1 KiB .. 1 MiB, roughly 20k files
 *       per GiB) below DIR, in nested directories.  Content is a mix of
 *       prose-like text, log files, CSV, incompressible binary, and some
 *       exact duplicates.  Modification times are fixed.
 *
 * The output depends only on the arguments, never on time or environment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- random */

static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

typedef struct {
	uint64_t s;
} rng_t;

static inline uint64_t rnext(rng_t *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return mix64(r->s);
}

/* uniform in [0, n) */
static inline uint32_t rbelow(rng_t *r, uint32_t n)
{
	return (uint32_t)(((rnext(r) >> 32) * (uint64_t)n) >> 32);
}

static inline double runit(rng_t *r)
{
	return (double)(rnext(r) >> 11) * (1.0 / 9007199254740992.0);
}

static inline rng_t rseed(uint64_t a, uint64_t b, uint64_t c)
{
	rng_t r;
	r.s = mix64(a ^ mix64(b + 0x632be59bd9b4e019ULL) ^
		    mix64(c * 0x8cb92ba72f3d8dd7ULL + 1));
	return r;
}

/* ---------------------------------------------------------------- output */

#define OB_CAP (4u << 20)
static char *ob;
static size_t olen;
static int ofd = 1;

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("gendump: write");
			exit(1);
		}
		p += w;
		n -= (size_t)w;
	}
}

static void oflush(void)
{
	write_all(ofd, ob, olen);
	olen = 0;
}

static void oput(const char *s, size_t n)
{
	if (olen + n > OB_CAP)
		oflush();
	memcpy(ob + olen, s, n);
	olen += n;
}

static void oputs(const char *s) { oput(s, strlen(s)); }

/* --------------------------------------------------------- text helpers */

static inline char *put_mem(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put_mem((p), (lit), sizeof(lit) - 1)

static inline char *put_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static inline char *put_pad(char *p, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

static const char hexdig[] = "0123456789abcdef";

static inline char *put_hex(char *p, rng_t *r, int nchars)
{
	uint64_t x = 0;
	for (int i = 0; i < nchars; i++) {
		if ((i & 15) == 0)
			x = rnext(r);
		*p++ = hexdig[x & 15];
		x >>= 4;
	}
	return p;
}

/* "YYYY-MM-DD" for consecutive days starting 2018-01-01 */
#define NDAYS 4096
static char days[NDAYS][10];

static void init_days(void)
{
	static const int mlen[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = 2018, m = 0, d = 1;
	for (int i = 0; i < NDAYS; i++) {
		char *p = days[i];
		p = put_pad(p, (unsigned)y, 4);
		*p++ = '-';
		p = put_pad(p, (unsigned)m + 1, 2);
		*p++ = '-';
		put_pad(p, (unsigned)d, 2);
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		int ml = mlen[m] + (m == 1 && leap);
		if (++d > ml) {
			d = 1;
			if (++m == 12) {
				m = 0;
				y++;
			}
		}
	}
}

/* seconds since 2018-01-01 -> "YYYY-MM-DD HH:MM:SS" (sep between date and time) */
static inline char *put_ts(char *p, uint64_t secs, char sep)
{
	uint64_t day = (secs / 86400) % NDAYS;
	unsigned s = (unsigned)(secs % 86400);
	p = put_mem(p, days[day], 10);
	*p++ = sep;
	p = put_pad(p, s / 3600, 2);
	*p++ = ':';
	p = put_pad(p, (s / 60) % 60, 2);
	*p++ = ':';
	return put_pad(p, s % 60, 2);
}

/* ---------------------------------------------------------- vocabulary */

typedef struct {
	const char *s;
	uint8_t n;
} word_t;

static char pool[1 << 20];
static size_t pool_len;

#define NWORDS 6000
#define NFIRST 400
#define NLAST 1500
#define NDOMAIN 60
static word_t words[NWORDS], firsts[NFIRST], lasts[NLAST], domains[NDOMAIN];

static const char *const onsets[] = {
	"b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s",
	"t", "v", "w", "z", "br", "ch", "st", "th", "tr", "pl", "gr", "sh",
	"kr", "fl", "", "",
};
static const char *const nuclei[] = {
	"a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "ou", "io", "y",
};
static const char *const codas[] = {
	"", "", "", "", "n", "r", "s", "l", "t", "m", "nd", "st", "ck", "x",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static word_t make_word(rng_t *r, int minsyl, int maxsyl, int capital)
{
	word_t w;
	char *start = pool + pool_len, *p = start;
	int nsyl = minsyl + (int)rbelow(r, (uint32_t)(maxsyl - minsyl + 1));
	for (int i = 0; i < nsyl; i++) {
		const char *o = onsets[rbelow(r, COUNT(onsets))];
		const char *v = nuclei[rbelow(r, COUNT(nuclei))];
		const char *c = i == nsyl - 1 ? codas[rbelow(r, COUNT(codas))] : "";
		p = put_mem(p, o, strlen(o));
		p = put_mem(p, v, strlen(v));
		p = put_mem(p, c, strlen(c));
	}
	if (capital && *start >= 'a' && *start <= 'z')
		*start = (char)(*start - 'a' + 'A');
	w.s = start;
	w.n = (uint8_t)(p - start);
	pool_len += (size_t)(p - start);
	return w;
}

static const char *const tlds[] = {"com", "net", "org", "io", "de", "example"};

static void init_vocab(uint64_t seed)
{
	rng_t r = rseed(seed, 0x766f636162ULL, 0);
	for (int i = 0; i < NWORDS; i++)
		words[i] = make_word(&r, 1, i < 200 ? 1 : 3, 0);
	for (int i = 0; i < NFIRST; i++)
		firsts[i] = make_word(&r, 2, 2, 1);
	for (int i = 0; i < NLAST; i++)
		lasts[i] = make_word(&r, 2, 3, 1);
	for (int i = 0; i < NDOMAIN; i++) {
		word_t a = make_word(&r, 1, 2, 0);
		const char *t = tlds[rbelow(&r, COUNT(tlds))];
		char *p = pool + pool_len;
		*p++ = '.';
		p = put_mem(p, t, strlen(t));
		pool_len = (size_t)(p - pool);
		domains[i].s = a.s;
		domains[i].n = (uint8_t)(p - a.s);
	}
}

/* skewed pick: small indices are much more frequent (roughly Zipf-like) */
static inline uint32_t skew(rng_t *r, uint32_t n)
{
	double u = runit(r);
	return (uint32_t)(u * u * u * n);
}

static inline char *put_word(char *p, const word_t *w)
{
	return put_mem(p, w->s, w->n);
}

static inline char *put_words(char *p, rng_t *r, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			*p++ = ' ';
		p = put_word(p, &words[skew(r, NWORDS)]);
	}
	return p;
}

static inline char *put_cstr(char *p, const char *s)
{
	return put_mem(p, s, strlen(s));
}

#define PICK(r, a) ((a)[rbelow((r), COUNT(a))])

/* ---------------------------------------------------------- dump tables */

static const char *const user_status[] = {
	"active", "active", "active", "active", "active", "inactive", "pending", "banned",
};
static const char *const countries[] = {
	"DE", "US", "US", "US", "FR", "GB", "NL", "SE", "PL", "ES", "IT", "JP",
	"BR", "IN", "CA", "AU", "AT", "CH",
};
static const char *const langs[] = {"en", "en", "de", "fr", "es", "ja", "pt"};
static const char *const themes[] = {"light", "dark", "system"};
static const char *const order_status[] = {
	"delivered", "delivered", "delivered", "shipped", "paid", "new", "cancelled", "refunded",
};
static const char *const currencies[] = {"EUR", "EUR", "USD", "USD", "GBP", "CHF", "SEK"};
static const char *const event_kinds[] = {
	"page_view", "page_view", "page_view", "page_view", "click", "click",
	"search", "login", "logout", "add_to_cart", "checkout", "error",
};
static const char *const agents[] = {
	"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
	"curl/8.4.0",
	"app-client/3.2.1 (android)",
};

typedef struct table {
	const char *name;
	const char *columns; /* for COPY */
	const char *ddl;     /* CREATE TABLE body */
	double share;        /* fraction of the stream */
	unsigned step;       /* mean seconds between consecutive rows */
	char *(*row)(char *p, rng_t *r, uint64_t id, uint64_t ts);
} table_t;

static uint64_t n_users = 100000; /* rows of users actually written (for FKs) */

static char *row_users(char *p, rng_t *r, uint64_t id, uint64_t ts)
{
	const word_t *f = &firsts[skew(r, NFIRST)], *l = &lasts[rbelow(r, NLAST)];
	unsigned num = rbelow(r, 1000);
	char *u0;

	p = put_u64(p, id);
	*p++ = '\t';
	u0 = p; /* username: first initial + last name + number, lower case */
	*p++ = (char)(f->s[0] | 0x20);
	p = put_word(p, l);
	*u0 |= 0x20;
	u0[1] |= 0x20;
	p = put_u64(p, num);
	*p++ = '\t';
	p = put_word(p, f);
	*p++ = '.';
	p = put_word(p, l);
	*p++ = '@';
	p = put_word(p, &domains[skew(r, NDOMAIN)]);
	*p++ = '\t';
	p = put_word(p, f);
	*p++ = ' ';
	p = put_word(p, l);
	*p++ = '\t';
	p = put_ts(p, ts, ' ');
	p = PUT_LIT(p, "+00\t");
	if (rbelow(r, 5) == 0) {
		p = PUT_LIT(p, "\\N");
	} else {
		p = put_ts(p, ts + rbelow(r, 90 * 86400), ' ');
		*p++ = '.';
		p = put_pad(p, rbelow(r, 1000000), 6);
		p = PUT_LIT(p, "+00");
	}
	*p++ = '\t';
	p = put_cstr(p, PICK(r, user_status));
	*p++ = '\t';
	p = put_cstr(p, PICK(r, countries));
	*p++ = '\t';
	*p++ = rbelow(r, 50) ? 'f' : 't';
	p = PUT_LIT(p, "\t{\"theme\": \"");
	p = put_cstr(p, PICK(r, themes));
	p = PUT_LIT(p, "\", \"lang\": \"");
	p = put_cstr(p, PICK(r, langs));
	p = PUT_LIT(p, "\", \"newsletter\": ");
	p = rbelow(r, 3) ? PUT_LIT(p, "false") : PUT_LIT(p, "true");
	p = PUT_LIT(p, ", \"tags\": [");
	int nt = (int)rbelow(r, 4);
	for (int i = 0; i < nt; i++) {
		if (i)
			p = PUT_LIT(p, ", ");
		*p++ = '"';
		p = put_word(p, &words[skew(r, 300)]);
		*p++ = '"';
	}
	p = PUT_LIT(p, "]}\n");
	return p;
}

static char *row_orders(char *p, rng_t *r, uint64_t id, uint64_t ts)
{
	p = put_u64(p, id);
	*p++ = '\t';
	p = put_u64(p, 1 + rbelow(r, (uint32_t)n_users));
	*p++ = '\t';
	p = put_ts(p, ts, ' ');
	p = PUT_LIT(p, "+00\t");
	p = put_cstr(p, PICK(r, order_status));
	*p++ = '\t';
	p = put_cstr(p, PICK(r, currencies));
	*p++ = '\t';
	uint32_t cents = rbelow(r, 5) ? 100 + rbelow(r, 20000) : rbelow(r, 500000);
	p = put_u64(p, cents / 100);
	*p++ = '.';
	p = put_pad(p, cents % 100, 2);
	*p++ = '\t';
	p = put_u64(p, 1 + skew(r, 12));
	*p++ = '\t';
	p = put_u64(p, 1 + rbelow(r, 300));
	*p++ = ' ';
	p = put_word(p, &lasts[skew(r, NLAST)]);
	p = rbelow(r, 2) ? PUT_LIT(p, " Street, ") : PUT_LIT(p, " Road, ");
	p = put_pad(p, rbelow(r, 100000), 5);
	*p++ = ' ';
	p = put_word(p, &lasts[skew(r, 200)]);
	*p++ = ',';
	*p++ = ' ';
	p = put_cstr(p, PICK(r, countries));
	*p++ = '\t';
	if (rbelow(r, 6)) {
		p = PUT_LIT(p, "\\N");
	} else {
		p = put_words(p, r, 3 + (int)rbelow(r, 10));
	}
	*p++ = '\n';
	return p;
}

static char *row_events(char *p, rng_t *r, uint64_t id, uint64_t ts)
{
	p = put_u64(p, id);
	*p++ = '\t';
	if (rbelow(r, 8) == 0)
		p = PUT_LIT(p, "\\N");
	else
		p = put_u64(p, 1 + skew(r, (uint32_t)n_users));
	*p++ = '\t';
	p = put_ts(p, ts, ' ');
	*p++ = '.';
	p = put_pad(p, rbelow(r, 1000000), 6);
	p = PUT_LIT(p, "+00\t");
	p = put_cstr(p, PICK(r, event_kinds));
	p = PUT_LIT(p, "\t/");
	p = put_word(p, &words[skew(r, 50)]);
	*p++ = '/';
	p = put_word(p, &words[skew(r, 800)]);
	if (rbelow(r, 3) == 0) {
		p = PUT_LIT(p, "?id=");
		p = put_u64(p, rbelow(r, 100000));
	}
	p = PUT_LIT(p, "\t{\"session\": \"");
	p = put_hex(p, r, 16);
	p = PUT_LIT(p, "\", \"ip\": \"");
	p = put_u64(p, 10 + rbelow(r, 200));
	*p++ = '.';
	p = put_u64(p, rbelow(r, 256));
	*p++ = '.';
	p = put_u64(p, rbelow(r, 256));
	*p++ = '.';
	p = put_u64(p, 1 + rbelow(r, 254));
	p = PUT_LIT(p, "\", \"ua\": \"");
	p = put_cstr(p, agents[skew(r, COUNT(agents))]);
	p = PUT_LIT(p, "\", \"duration_ms\": ");
	p = put_u64(p, skew(r, 5000));
	if (rbelow(r, 4) == 0) {
		p = PUT_LIT(p, ", \"ref\": \"https://");
		p = put_word(p, &domains[skew(r, NDOMAIN)]);
		*p++ = '/';
		p = put_word(p, &words[skew(r, NWORDS)]);
		*p++ = '"';
	}
	p = PUT_LIT(p, "}\n");
	return p;
}

static char *row_comments(char *p, rng_t *r, uint64_t id, uint64_t ts)
{
	p = put_u64(p, id);
	*p++ = '\t';
	p = put_u64(p, 1 + rbelow(r, 200000));
	*p++ = '\t';
	p = put_u64(p, 1 + skew(r, (uint32_t)n_users));
	*p++ = '\t';
	p = put_ts(p, ts, ' ');
	p = PUT_LIT(p, "+00\t");
	int nsent = 1 + (int)rbelow(r, 5);
	for (int s = 0; s < nsent; s++) {
		if (s)
			p = rbelow(r, 4) ? PUT_LIT(p, " ") : PUT_LIT(p, "\\n\\n");
		char *w0 = p;
		p = put_words(p, r, 4 + (int)rbelow(r, 12));
		if (*w0 >= 'a' && *w0 <= 'z')
			*w0 = (char)(*w0 - 'a' + 'A');
		*p++ = rbelow(r, 6) ? '.' : '?';
	}
	*p++ = '\t';
	p = put_u64(p, skew(r, 400));
	*p++ = '\t';
	*p++ = rbelow(r, 30) ? 'f' : 't';
	*p++ = '\n';
	return p;
}

static char *row_sessions(char *p, rng_t *r, uint64_t id, uint64_t ts)
{
	p = put_u64(p, id);
	*p++ = '\t';
	p = put_u64(p, 1 + rbelow(r, (uint32_t)n_users));
	*p++ = '\t';
	p = put_hex(p, r, 64);
	*p++ = '\t';
	p = put_ts(p, ts, ' ');
	p = PUT_LIT(p, "+00\t");
	p = put_ts(p, ts + 14 * 86400, ' ');
	p = PUT_LIT(p, "+00\t");
	p = put_cstr(p, agents[skew(r, COUNT(agents))]);
	*p++ = '\n';
	return p;
}

static const table_t tables[] = {
	{"users", "id, username, email, full_name, created_at, last_login, status, country, is_admin, prefs",
	 "    id bigint NOT NULL,\n    username text NOT NULL,\n    email text NOT NULL,\n"
	 "    full_name text,\n    created_at timestamp with time zone NOT NULL,\n"
	 "    last_login timestamp with time zone,\n    status text NOT NULL,\n"
	 "    country character(2),\n    is_admin boolean DEFAULT false NOT NULL,\n    prefs jsonb\n",
	 0.08, 300, row_users},
	{"orders", "id, user_id, created_at, status, currency, amount, items, shipping_address, note",
	 "    id bigint NOT NULL,\n    user_id bigint NOT NULL,\n"
	 "    created_at timestamp with time zone NOT NULL,\n    status text NOT NULL,\n"
	 "    currency character(3) NOT NULL,\n    amount numeric(12,2) NOT NULL,\n"
	 "    items integer NOT NULL,\n    shipping_address text,\n    note text\n",
	 0.22, 40, row_orders},
	{"events", "id, user_id, occurred_at, kind, path, payload",
	 "    id bigint NOT NULL,\n    user_id bigint,\n"
	 "    occurred_at timestamp with time zone NOT NULL,\n    kind text NOT NULL,\n"
	 "    path text NOT NULL,\n    payload jsonb\n",
	 0.38, 12, row_events},
	{"comments", "id, post_id, author_id, created_at, body, score, flagged",
	 "    id bigint NOT NULL,\n    post_id bigint NOT NULL,\n    author_id bigint NOT NULL,\n"
	 "    created_at timestamp with time zone NOT NULL,\n    body text NOT NULL,\n"
	 "    score integer DEFAULT 0 NOT NULL,\n    flagged boolean DEFAULT false NOT NULL\n",
	 0.27, 30, row_comments},
	{"sessions", "id, user_id, token, created_at, expires_at, user_agent",
	 "    id bigint NOT NULL,\n    user_id bigint NOT NULL,\n    token character(64) NOT NULL,\n"
	 "    created_at timestamp with time zone NOT NULL,\n"
	 "    expires_at timestamp with time zone NOT NULL,\n    user_agent text\n",
	 0.05, 60, row_sessions},
};
#define NTABLES COUNT(tables)

/*
 * Change ~pct% of rows: rotate a handful of letters/digits somewhere after
 * the id column.  Length and tab/newline structure are preserved, escape
 * sequences are left alone.
 */
static void mutate_row(char *row, size_t len, rng_t *r)
{
	size_t first = 0;
	while (first < len && row[first] != '\t')
		first++;
	if (first + 2 >= len)
		return;
	size_t pos = first + 1 + rbelow(r, (uint32_t)(len - first - 2));
	int changed = 0;
	for (size_t j = pos; j + 1 < len && changed < 6; j++) {
		char c = row[j];
		if (row[j - 1] == '\\' || c == '\\')
			continue;
		if (c >= '0' && c <= '9')
			row[j] = (char)('0' + (c - '0' + 1 + rbelow(r, 9)) % 10);
		else if (c >= 'a' && c <= 'z')
			row[j] = (char)('a' + (c - 'a' + 1 + rbelow(r, 25)) % 26);
		else if (c >= 'A' && c <= 'Z')
			row[j] = (char)('A' + (c - 'A' + 1 + rbelow(r, 25)) % 26);
		else
			continue;
		changed++;
	}
}

enum { CHANGE_CLUSTERED, CHANGE_UNIFORM };

/* clustered mode: per mille of the rows in a run that are moved / deleted */
#define MOVE_PERMILLE 100
#define DELETE_PERMILLE 20
/* new rows appended per table, per mille of its changed rows */
#define NEW_PERMILLE 100

typedef struct {
	int mode;
	double pct;
	uint64_t seed;
	uint32_t lmin, lmax; /* run length, rows */
	rng_t r;             /* sequential decisions (clustered) */
	double mean_gap;     /* rows between runs (clustered) */
	uint64_t gap, left;  /* rows until the next run, rows left in this run */
	/* statistics */
	uint64_t changed, inplace, moved, deleted, added, runs;
} change_t;

/* a growable byte buffer for the rows moved to the end of a table */
typedef struct {
	char *p;
	size_t len, cap;
} buf_t;

static void buf_add(buf_t *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1u << 20;
		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p) {
			perror("gendump: realloc");
			exit(1);
		}
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* rows between two runs: exponential, so runs start at random (Poisson) */
static uint64_t draw_gap(change_t *c)
{
	double u = runit(&c->r);
	return (uint64_t)(-log(1.0 - u) * c->mean_gap);
}

enum { KEEP, INPLACE, MOVE, DELETE };

/* clustered mode: what happens to the next row of the stream */
static int clustered_next(change_t *c)
{
	if (c->left == 0) {
		if (c->gap > 0) {
			c->gap--;
			return KEEP;
		}
		c->left = c->lmin + rbelow(&c->r, c->lmax - c->lmin + 1);
		c->runs++;
	}
	if (--c->left == 0)
		c->gap = draw_gap(c);
	uint32_t k = rbelow(&c->r, 1000);
	return k < DELETE_PERMILLE ? DELETE : k < DELETE_PERMILLE + MOVE_PERMILLE ? MOVE : INPLACE;
}

static void gen_dump(uint64_t size, uint64_t seed, change_t *c)
{
	char row[8192];
	uint64_t total = 0, grow = 0;
	uint64_t thresh = (uint64_t)(c->pct * 1e4); /* per million (uniform) */
	uint64_t change_seed = c->seed;
	buf_t tail = {0};

	if (c->pct > 0 && c->mode == CHANGE_CLUSTERED) {
		double mean_len = (c->lmin + c->lmax) / 2.0;
		c->r = rseed(change_seed, 0x636c7573746572ULL, seed);
		c->mean_gap = c->pct >= 100 ? 0 : mean_len * (100.0 / c->pct - 1.0);
		c->gap = draw_gap(c);
	}

	oputs("--\n-- PostgreSQL database dump\n--\n\n"
	      "-- Dumped from database version 15.5\n-- Dumped by pg_dump version 15.5\n\n"
	      "SET statement_timeout = 0;\nSET lock_timeout = 0;\n"
	      "SET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n"
	      "SELECT pg_catalog.set_config('search_path', '', false);\n"
	      "SET check_function_bodies = false;\nSET client_min_messages = warning;\n"
	      "SET row_security = off;\n\nSET default_tablespace = '';\n\n");
	for (size_t t = 0; t < NTABLES; t++) {
		oputs("--\n-- Name: ");
		oputs(tables[t].name);
		oputs("; Type: TABLE; Schema: public; Owner: app\n--\n\nCREATE TABLE public.");
		oputs(tables[t].name);
		oputs(" (\n");
		oputs(tables[t].ddl);
		oputs(");\n\n\nALTER TABLE public.");
		oputs(tables[t].name);
		oputs(" OWNER TO app;\n\n");
	}

	for (size_t t = 0; t < NTABLES; t++) {
		const table_t *tb = &tables[t];
		uint64_t budget = (uint64_t)(tb->share * (double)size), used = 0, id = 0;
		uint64_t ts = 86400ULL * 30 * t;

		oputs("--\n-- Data for Name: ");
		oputs(tb->name);
		oputs("; Type: TABLE DATA; Schema: public; Owner: app\n--\n\nCOPY public.");
		oputs(tb->name);
		oputs(" (");
		oputs(tb->columns);
		oputs(") FROM stdin;\n");
		uint64_t tchanged = 0, tmoved = 0;
		tail.len = 0;
		if (c->left > 0) { /* a run of changes stays within one table */
			c->left = 0;
			c->gap = draw_gap(c);
		}
		while (used < budget) {
			rng_t r = rseed(seed, t + 1, ++id);
			ts += 1 + rbelow(&r, 2 * tb->step);
			char *end = tb->row(row, &r, id, ts);
			size_t len = (size_t)(end - row);
			used += len; /* the unchanged layout decides which rows exist */
			if (c->pct > 0 && c->mode == CHANGE_UNIFORM) {
				uint64_t h = mix64(change_seed ^ mix64(grow + 0x5bd1e995ULL));
				if (h % 1000000 < thresh) {
					rng_t mr = rseed(change_seed, h, grow);
					mutate_row(row, len, &mr);
					c->changed++;
					c->inplace++;
				}
			} else if (c->pct > 0) {
				int what = clustered_next(c);
				if (what != KEEP) {
					rng_t mr = rseed(change_seed, 0x726f77ULL, grow);
					c->changed++;
					tchanged++;
					if (what == DELETE) {
						c->deleted++;
						grow++;
						continue;
					}
					mutate_row(row, len, &mr);
					if (what == MOVE) {
						buf_add(&tail, row, len);
						c->moved++;
						tmoved++;
						grow++;
						continue;
					}
					c->inplace++;
				}
			}
			grow++;
			oput(row, len);
			total += len;
		}
		if (t == 0)
			n_users = id; /* foreign keys refer to the original users only */
		if (c->pct > 0 && c->mode == CHANGE_CLUSTERED) {
			/* moved rows and new rows, randomly interleaved, at the end of
			 * the table (both in their order of creation) */
			uint64_t nnew = (tchanged * NEW_PERMILLE + 500) / 1000;
			size_t off = 0;
			rng_t ir = rseed(change_seed, 0x7461696cULL, t);
			while (tmoved + nnew > 0) {
				size_t len;
				if (rbelow(&ir, (uint32_t)(tmoved + nnew)) < tmoved) {
					tmoved--;
					const char *nl = memchr(tail.p + off, '\n', tail.len - off);
					len = (size_t)(nl - (tail.p + off)) + 1;
					oput(tail.p + off, len);
					off += len;
				} else {
					rng_t r = rseed(seed, t + 1, ++id);
					ts += 1 + rbelow(&r, 2 * tb->step);
					char *end = tb->row(row, &r, id, ts);
					len = (size_t)(end - row);
					oput(row, len);
					c->added++;
					nnew--;
				}
				total += len;
			}
		}
		oputs("\\.\n\n\n");
	}

	for (size_t t = 0; t < NTABLES; t++) {
		oputs("ALTER TABLE ONLY public.");
		oputs(tables[t].name);
		oputs("\n    ADD CONSTRAINT ");
		oputs(tables[t].name);
		oputs("_pkey PRIMARY KEY (id);\n\n");
	}
	oputs("CREATE INDEX events_user_id_idx ON public.events USING btree (user_id);\n"
	      "CREATE INDEX orders_user_id_idx ON public.orders USING btree (user_id);\n"
	      "CREATE INDEX comments_post_id_idx ON public.comments USING btree (post_id);\n\n"
	      "--\n-- PostgreSQL database dump complete\n--\n\n");
	oflush();
	free(tail.p);
	if (c->pct > 0 && c->mode == CHANGE_CLUSTERED)
		fprintf(stderr,
			"gendump: %llu rows, %llu changed (clustered: %llu runs of %u-%u rows; "
			"%llu in place, %llu moved to table end, %llu deleted; %llu new rows), "
			"%llu bytes of row data\n",
			(unsigned long long)grow, (unsigned long long)c->changed,
			(unsigned long long)c->runs, c->lmin, c->lmax,
			(unsigned long long)c->inplace, (unsigned long long)c->moved,
			(unsigned long long)c->deleted, (unsigned long long)c->added,
			(unsigned long long)total);
	else
		fprintf(stderr, "gendump: %llu rows, %llu changed%s, %llu bytes of row data\n",
			(unsigned long long)grow, (unsigned long long)c->changed,
			c->pct > 0 ? " (uniform, in place)" : "", (unsigned long long)total);
}

/* ----------------------------------------------------------------- tree */

enum { F_TEXT, F_LOG, F_CSV, F_BIN, F_DUP };
static const char *const fext[] = {".txt", ".log", ".csv", ".bin"};

typedef struct {
	int kind;
	uint32_t size;
} fspec_t;

static fspec_t file_spec(uint64_t seed, uint64_t i)
{
	rng_t r = rseed(seed, 0x74726565ULL, i);
	fspec_t f;
	uint32_t k = rbelow(&r, 100);
	f.kind = k < 45 ? F_TEXT : k < 65 ? F_LOG : k < 80 ? F_CSV : k < 92 ? F_BIN : F_DUP;
	if (i == 0 && f.kind == F_DUP)
		f.kind = F_TEXT;
	/* size: 70% 1..16 KiB, 25% 16..256 KiB, 5% 256 KiB..1 MiB, log-uniform */
	uint32_t b = rbelow(&r, 100);
	double lo = b < 70 ? 1024 : b < 95 ? 16384 : 262144;
	double hi = b < 70 ? 16384 : b < 95 ? 262144 : 1048576;
	double u = runit(&r);
	f.size = (uint32_t)(lo * exp(u * log(hi / lo)));
	return f;
}

/* fill buf with exactly n bytes of the given kind */
static void fill_file(char *buf, uint32_t n, int kind, rng_t *r)
{
	char *p = buf, *end = buf + n;
	/* content is written past n by at most one line; buf has slack */
	switch (kind) {
	case F_TEXT:
		while (p < end) {
			int nsent = 2 + (int)rbelow(r, 6);
			for (int s = 0; s < nsent; s++) {
				char *w0 = p;
				p = put_words(p, r, 5 + (int)rbelow(r, 14));
				if (*w0 >= 'a' && *w0 <= 'z')
					*w0 = (char)(*w0 - 'a' + 'A');
				*p++ = '.';
				*p++ = s + 1 < nsent ? ' ' : '\n';
			}
			*p++ = '\n';
		}
		break;
	case F_LOG: {
		static const char *const lv[] = {"INFO ", "INFO ", "INFO ", "DEBUG", "WARN ", "ERROR"};
		uint64_t ts = rnext(r) % (86400ULL * 2000);
		while (p < end) {
			ts += rbelow(r, 5);
			p = put_ts(p, ts, 'T');
			*p++ = '.';
			p = put_pad(p, rbelow(r, 1000), 3);
			p = PUT_LIT(p, "Z ");
			p = put_cstr(p, PICK(r, lv));
			p = PUT_LIT(p, " [worker-");
			p = put_u64(p, rbelow(r, 16));
			p = PUT_LIT(p, "] ");
			p = put_words(p, r, 2 + (int)rbelow(r, 4));
			p = PUT_LIT(p, " req=");
			p = put_hex(p, r, 12);
			p = PUT_LIT(p, " path=/");
			p = put_word(p, &words[skew(r, 60)]);
			p = PUT_LIT(p, " status=");
			p = put_u64(p, rbelow(r, 10) ? 200 : 404 + rbelow(r, 100));
			p = PUT_LIT(p, " dur=");
			p = put_u64(p, skew(r, 3000));
			p = PUT_LIT(p, "ms\n");
		}
		break;
	}
	case F_CSV:
		p = PUT_LIT(p, "id,x,y,count,label,updated\n");
		for (uint64_t id = 1; p < end; id++) {
			p = put_u64(p, id);
			*p++ = ',';
			p = put_u64(p, rbelow(r, 100000));
			*p++ = '.';
			p = put_pad(p, rbelow(r, 10000), 4);
			*p++ = ',';
			*p++ = '-';
			p = put_u64(p, rbelow(r, 1000));
			*p++ = '.';
			p = put_pad(p, rbelow(r, 1000000), 6);
			*p++ = ',';
			p = put_u64(p, skew(r, 100000));
			*p++ = ',';
			p = put_word(p, &words[skew(r, 500)]);
			*p++ = ',';
			p = put_mem(p, days[rbelow(r, NDAYS)], 10);
			*p++ = '\n';
		}
		break;
	default: /* F_BIN */
		for (; p < end; p += 8) {
			uint64_t x = rnext(r);
			memcpy(p, &x, 8);
		}
		break;
	}
}

static void mkdir_p(char *path)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			perror(path);
			exit(1);
		}
		*s = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
}

static void gen_tree(const char *dir, uint64_t size, uint64_t seed)
{
	char path[4200], dpath[4096];
	char *buf = malloc((1u << 20) + 65536);
	uint64_t total = 0, nfiles = 0, ndirs = 0, last_dir = UINT64_MAX;
	const uint64_t files_per_dir = 24;
	const time_t base_mtime = 1700000000; /* fixed, for reproducibility */

	if (!buf) {
		perror("malloc");
		exit(1);
	}
	for (uint64_t i = 0; total < size; i++) {
		uint64_t d = i / files_per_dir;
		if (d != last_dir) {
			uint64_t h = mix64(seed ^ (d * 0x9e3779b97f4a7c15ULL));
			int n = snprintf(dpath, sizeof dpath, "%s/g%02u/s%02u/d%03u", dir,
					 (unsigned)(d % 12), (unsigned)((d / 12) % 10),
					 (unsigned)(d / 120));
			if ((h & 3) == 0)
				snprintf(dpath + n, sizeof dpath - (size_t)n, "/%.*s",
					 (int)words[h % NWORDS].n, words[h % NWORDS].s);
			mkdir_p(dpath);
			last_dir = d;
			ndirs++;
		}
		fspec_t f = file_spec(seed, i);
		uint64_t src = i;
		if (f.kind == F_DUP) {
			/* exact copy of an earlier non-duplicate file */
			rng_t r = rseed(seed, 0x647570ULL, i);
			src = rbelow(&r, (uint32_t)i);
			while ((f = file_spec(seed, src)).kind == F_DUP)
				src = src ? src - 1 : 0;
		}
		rng_t r = rseed(seed, 0x66696c65ULL, src);
		fill_file(buf, f.size, f.kind, &r);
		snprintf(path, sizeof path, "%s/f%06llu%s", dpath, (unsigned long long)i,
			 fext[f.kind]);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			perror(path);
			exit(1);
		}
		write_all(fd, buf, f.size);
		struct timespec ts[2] = {{base_mtime + (time_t)i, 0}, {base_mtime + (time_t)i, 0}};
		futimens(fd, ts);
		close(fd);
		total += f.size;
		nfiles++;
	}
	free(buf);
	fprintf(stderr, "gendump: %llu files in %llu directories, %llu bytes\n",
		(unsigned long long)nfiles, (unsigned long long)ndirs,
		(unsigned long long)total);
}

/* ----------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr,
		"usage: gendump dump [-s MB] [-S SEED] [-c PCT] [-C CHANGE_SEED]\n"
		"                    [-m clustered|uniform] [-L MIN-MAX] > FILE\n"
		"       gendump tree DIR [-s MB] [-S SEED]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t size_mb = 1024, seed = 1;
	change_t ch = {.mode = CHANGE_CLUSTERED, .seed = 7, .lmin = 20, .lmax = 400};
	const char *mode, *dir = NULL;
	int i = 2;

	if (argc < 2)
		usage();
	mode = argv[1];
	if (!strcmp(mode, "tree")) {
		if (argc < 3)
			usage();
		dir = argv[2];
		i = 3;
	} else if (strcmp(mode, "dump")) {
		usage();
	}
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (!strcmp(a, "-s"))
			size_mb = strtoull(v, NULL, 10);
		else if (!strcmp(a, "-S"))
			seed = strtoull(v, NULL, 10);
		else if (!strcmp(a, "-c"))
			ch.pct = strtod(v, NULL);
		else if (!strcmp(a, "-C"))
			ch.seed = strtoull(v, NULL, 10);
		else if (!strcmp(a, "-m") && !strcmp(v, "clustered"))
			ch.mode = CHANGE_CLUSTERED;
		else if (!strcmp(a, "-m") && !strcmp(v, "uniform"))
			ch.mode = CHANGE_UNIFORM;
		else if (!strcmp(a, "-L")) {
			unsigned lo, hi;
			if (sscanf(v, "%u-%u", &lo, &hi) != 2 || lo == 0 || hi < lo || hi > 1000000)
				usage();
			ch.lmin = lo;
			ch.lmax = hi;
		} else
			usage();
	}
	if (size_mb == 0 || !(ch.pct >= 0 && ch.pct <= 100))
		usage();

	init_days();
	init_vocab(seed);
	if (dir) {
		mkdir_p((char *)dir);
		gen_tree(dir, size_mb << 20, seed);
	} else {
		ob = malloc(OB_CAP);
		if (!ob) {
			perror("malloc");
			return 1;
		}
		gen_dump(size_mb << 20, seed, &ch);
	}
	return 0;
}

/*
 * serve.c — /metrics over HTTP (metrics.h), by libmicrohttpd on a thread
 * of its own that sleeps in poll(2) between scrapes.
 */
#include "metrics/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct metrics_server {
    struct MHD_Daemon *daemon;
};

static enum MHD_Result answer(void *ctx, struct MHD_Connection *connection, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    struct metrics *m = ctx;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)state;
    struct MHD_Response *response;
    unsigned status = MHD_HTTP_OK;
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        static const char text[] = "only GET\n";
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        response = MHD_create_response_from_buffer(sizeof text - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/metrics")) {
        static const char text[] = "coffer serves /metrics\n";
        status = MHD_HTTP_NOT_FOUND;
        response = MHD_create_response_from_buffer(sizeof text - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
    } else {
        struct buf body = BUF_INIT;
        metrics_render(m, &body);
        response = MHD_create_response_from_buffer(body.len, body.data ? body.data : (void *)"",
                                                   MHD_RESPMEM_MUST_COPY);
        buf_free(&body);
        MHD_add_response_header(response, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    }
    enum MHD_Result rc = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return rc;
}

/* "host:port", "[v6]:port" or ":port" into an address. */
static int parse_listen(const char *listen, struct sockaddr_storage *addr, struct error *err)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon[1] == '\0' || *end || port < 1 || port > 65535 || (size_t)(colon - listen) >= sizeof host)
        return error_setk(err, ERR_USAGE, "metrics: listen: \"%s\" is not HOST:PORT (e.g. 127.0.0.1:9914)", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    memset(addr, 0, sizeof *addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    size_t len = strlen(host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host[len - 1] = '\0';
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1)
            return 0;
    } else {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        if (!*host || !strcmp(host, "0.0.0.0")) {
            v4->sin_addr.s_addr = htonl(INADDR_ANY);
            return 0;
        }
        if (!strcmp(host, "localhost")) {
            v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return 0;
        }
        if (inet_pton(AF_INET, host, &v4->sin_addr) == 1)
            return 0;
    }
    return error_setk(err, ERR_USAGE, "metrics: listen: \"%s\" names no address coffer can listen on (an IP "
                      "address, [IPv6], or localhost)", listen);
}

int metrics_serve(struct metrics *m, const char *listen, struct metrics_server **out, struct error *err)
{
    struct sockaddr_storage addr;
    if (parse_listen(listen, &addr, err) < 0)
        return -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = addr.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&addr)->sin6_port)
                                                 : ntohs(((struct sockaddr_in *)&addr)->sin_port);
    struct MHD_Daemon *d = MHD_start_daemon(flags, port, NULL, NULL, answer, m, MHD_OPTION_SOCK_ADDR,
                                            (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT, 16U,
                                            MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
    if (!d)
        return error_set(err, "metrics: cannot listen on %s (in use, or not an address of this host)", listen);
    *out = xcalloc(1, sizeof **out);
    (*out)->daemon = d;
    return 0;
}

void metrics_server_stop(struct metrics_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    free(s);
}

/* core/reactor/net_addr.c: numeric address parsing and formatting. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <weft/net.h>

#include "reactor.h"

static int parse_port(const char *s, uint16_t *port) {
  if (!*s)
    return WEFT_EINVAL;
  unsigned long v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9')
      return WEFT_EINVAL;
    v = v * 10 + (unsigned long)(*p - '0');
    if (v > 65535)
      return WEFT_EINVAL;
  }
  *port = (uint16_t)v;
  return 0;
}

static int parse_unix(const char *path, struct sockaddr_storage *out,
                      socklen_t *len) {
  struct sockaddr_un *un = (struct sockaddr_un *)out;
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof un->sun_path)
    return WEFT_EINVAL;
  memset(out, 0, sizeof *out);
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path, path, n + 1);
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  return 0;
}

int weft_addr_parse(const char *text, struct sockaddr_storage *out,
                    socklen_t *len) {
  if (!text || !out || !len)
    return WEFT_EINVAL;
  if (text[0] == '/')
    return parse_unix(text, out, len);
  if (!strncmp(text, "unix:", 5))
    return parse_unix(text + 5, out, len);
  char host[INET6_ADDRSTRLEN + 1];
  const char *port;
  if (text[0] == '[') {
    const char *end = strchr(text, ']');
    if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof host)
      return WEFT_EINVAL;
    memcpy(host, text + 1, (size_t)(end - text - 1));
    host[end - text - 1] = '\0';
    port = end + 2;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    memset(out, 0, sizeof *out);
    a6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1 ||
        parse_port(port, &a6->sin6_port) < 0)
      return WEFT_EINVAL;
    a6->sin6_port = htons(a6->sin6_port);
    *len = sizeof *a6;
    return 0;
  }
  const char *colon = strrchr(text, ':');
  if (!colon || (size_t)(colon - text) >= sizeof host)
    return WEFT_EINVAL;
  memcpy(host, text, (size_t)(colon - text));
  host[colon - text] = '\0';
  port = colon + 1;
  struct sockaddr_in *a4 = (struct sockaddr_in *)out;
  memset(out, 0, sizeof *out);
  a4->sin_family = AF_INET;
  if (inet_pton(AF_INET, host, &a4->sin_addr) != 1 ||
      parse_port(port, &a4->sin_port) < 0)
    return WEFT_EINVAL;
  a4->sin_port = htons(a4->sin_port);
  *len = sizeof *a4;
  return 0;
}

int weft_addr_format(const struct sockaddr *addr, socklen_t len, char *buf,
                     size_t cap) {
  if (!addr || !buf || cap == 0)
    return WEFT_EINVAL;
  char host[INET6_ADDRSTRLEN];
  int n;
  switch (addr->sa_family) {
  case AF_INET: {
    if (len < (socklen_t)sizeof(struct sockaddr_in))
      return WEFT_EINVAL;
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)addr;
    inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
    n = snprintf(buf, cap, "%s:%u", host, (unsigned)ntohs(a4->sin_port));
    break;
  }
  case AF_INET6: {
    if (len < (socklen_t)sizeof(struct sockaddr_in6))
      return WEFT_EINVAL;
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)addr;
    inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
    n = snprintf(buf, cap, "[%s]:%u", host, (unsigned)ntohs(a6->sin6_port));
    break;
  }
  case AF_UNIX: {
    const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
    size_t max = len > offsetof(struct sockaddr_un, sun_path)
                     ? len - offsetof(struct sockaddr_un, sun_path)
                     : 0;
    if (max > sizeof un->sun_path)
      max = sizeof un->sun_path;
    /* Relative paths get the "unix:" prefix so that parsing them back
     * does not read them as host:port. */
    n = snprintf(buf, cap, "%s%.*s", un->sun_path[0] == '/' ? "" : "unix:",
                 (int)strnlen(un->sun_path, max), un->sun_path);
    break;
  }
  default:
    return WEFT_EINVAL;
  }
  if (n < 0)
    return WEFT_EINVAL;
  if ((size_t)n >= cap)
    return WEFT_ERANGE;
  return n;
}

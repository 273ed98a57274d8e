// DNS SRV lookups (RFC 2782, RFC 3263 §4.2) over UDP on asio, with libresolv's message functions.
#include "sipvoice/transport/dns.hpp"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <random>

#include <asio/ip/address.hpp>
#include <asio/ip/udp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "../sip/charset.hpp"
#include "sipvoice/clock.hpp"

namespace sipvoice::transport {

namespace {

std::string_view without_final_dot(std::string_view name) {
    while (!name.empty() && name.back() == '.') name.remove_suffix(1);
    return name;
}

// DNS names compare without regard to ASCII case or a final dot.
bool same_name(std::string_view a, std::string_view b) {
    return sip::detail::iequals(without_final_dot(a), without_final_dot(b));
}

// The domain name at `at` in record data of `len` bytes (compression pointers followed within the
// message); nothing when it is malformed or runs past the record.
std::optional<std::string> read_name(const ns_msg& msg, const unsigned char* rd, int at, int len) {
    char name[NS_MAXDNAME];
    const int used = dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + at, name, sizeof name);
    if (used < 0 || used > len - at) return std::nullopt;
    return std::string(name);
}

std::uint16_t get16(const unsigned char* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t get32(const unsigned char* p) { return (std::uint32_t{get16(p)} << 16) | get16(p + 2); }

// RFC 2181 §8: a TTL with the top bit set is taken as 0.
std::uint32_t ttl_of(const ns_rr& rr) {
    const auto t = static_cast<std::uint32_t>(ns_rr_ttl(rr));
    return t > 0x7fffffffU ? 0 : t;
}

// RFC 2308 §5: a negative answer is kept for the smaller of its SOA's TTL and MINIMUM field; 0
// when the authority section has no SOA.
std::uint32_t negative_ttl(ns_msg& msg) {
    const int count = ns_msg_count(msg, ns_s_ns);
    for (int i = 0; i < count; ++i) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_ns, i, &rr) < 0) return 0;
        // MNAME and RNAME (one byte each at the least), then five 32-bit fields, MINIMUM last.
        if (ns_rr_type(rr) != ns_t_soa || ns_rr_rdlen(rr) < 22) continue;
        return std::min(ttl_of(rr), get32(ns_rr_rdata(rr) + ns_rr_rdlen(rr) - 4));
    }
    return 0;
}

}  // namespace

std::vector<std::uint8_t> make_dns_query(std::string_view name, dns_type type, std::uint16_t id) {
    // res_mkquery's name is a C string: a name with a NUL in it is no name.
    if (name.empty() || name.size() > 253 || name.find('\0') != std::string_view::npos) return {};
    const std::string text(name);
    std::array<unsigned char, 512> buf{};
    struct __res_state state {};
    const int n = res_nmkquery(&state, ns_o_query, text.c_str(), ns_c_in, static_cast<int>(type), nullptr, 0, nullptr,
                               buf.data(), static_cast<int>(buf.size()));
    if (n < HFIXEDSZ) return {};
    buf[0] = static_cast<unsigned char>(id >> 8);
    buf[1] = static_cast<unsigned char>(id & 0xff);
    buf[2] |= 0x01;  // RD: the server resolves for us
    return {buf.begin(), buf.begin() + n};
}

dns_answer read_dns_response(std::span<const std::uint8_t> response, std::uint16_t id, std::string_view name, dns_type type) {
    dns_answer out;
    auto fail = [&out](std::string why) {
        out.ok = false;
        out.error = std::move(why);
        out.records.clear();
        out.addresses.clear();
        return out;
    };
    // Not the answer to this query (another id, not a response, another question): someone else's.
    auto foreign = [&](std::string why) {
        fail(std::move(why));
        out.foreign = true;
        return out;
    };
    if (response.size() < HFIXEDSZ || response.size() > 65535) return fail("malformed DNS response");
    ns_msg msg;
    if (ns_initparse(response.data(), static_cast<int>(response.size()), &msg) < 0) return fail("malformed DNS response");
    if (ns_msg_id(msg) != id) return foreign("a DNS response to another query");
    if (ns_msg_getflag(msg, ns_f_qr) == 0) return foreign("a DNS query, not a response");
    out.truncated = ns_msg_getflag(msg, ns_f_tc) != 0;
    // The question must be ours: a response for another name is someone else's (or forged).
    if (ns_msg_count(msg, ns_s_qd) != 1) return foreign("a DNS response without our question");
    ns_rr q;
    if (ns_parserr(&msg, ns_s_qd, 0, &q) < 0) return fail("malformed DNS response");
    if (!same_name(ns_rr_name(q), name) || ns_rr_type(q) != static_cast<int>(type) || ns_rr_class(q) != ns_c_in)
        return foreign("a DNS response to another question");
    const int rcode = ns_msg_getflag(msg, ns_f_rcode);
    if (rcode == ns_r_nxdomain) {
        out.ok = true;  // the name does not exist: no records
        out.ttl = negative_ttl(msg);
        return out;
    }
    if (rcode != ns_r_noerror) return fail("DNS server error " + std::to_string(rcode));
    const int answers = ns_msg_count(msg, ns_s_an);
    std::optional<std::uint32_t> least;  // of the records on the way to the answer (CNAMEs too)
    for (int i = 0; i < answers; ++i) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) return fail("malformed DNS response");
        if (ns_rr_class(rr) == ns_c_in && (ns_rr_type(rr) == static_cast<int>(type) || ns_rr_type(rr) == ns_t_cname))
            least = std::min(least.value_or(ttl_of(rr)), ttl_of(rr));
        // CNAMEs on the way (the records that follow carry the final name) and other types are skipped.
        if (ns_rr_type(rr) != static_cast<int>(type) || ns_rr_class(rr) != ns_c_in) continue;
        const unsigned char* rd = ns_rr_rdata(rr);
        const int len = ns_rr_rdlen(rr);
        if (type == dns_type::a) {
            if (len != 4) return fail("malformed A record");
            asio::ip::address_v4::bytes_type b;
            std::memcpy(b.data(), rd, 4);
            out.addresses.emplace_back(asio::ip::address_v4(b));
        } else if (type == dns_type::aaaa) {
            if (len != 16) return fail("malformed AAAA record");
            asio::ip::address_v6::bytes_type b;
            std::memcpy(b.data(), rd, 16);
            out.addresses.emplace_back(asio::ip::address_v6(b));
        } else if (type == dns_type::naptr) {
            if (!same_name(ns_rr_name(rr), name)) continue;
            // ORDER, PREFERENCE, three <character-string>s (a length byte, then that many bytes),
            // then REPLACEMENT, a domain name (RFC 3403 §4.1).
            if (len < 4) return fail("malformed NAPTR record");
            naptr_record n{get16(rd), get16(rd + 2), {}, {}, {}, {}};
            int at = 4;
            for (std::string* text : {&n.flags, &n.service, &n.regexp}) {
                if (at >= len || at + 1 + rd[at] > len) return fail("malformed NAPTR record");
                text->assign(reinterpret_cast<const char*>(rd + at + 1), rd[at]);
                at += 1 + rd[at];
            }
            auto replacement = read_name(msg, rd, at, len);
            if (!replacement) return fail("malformed NAPTR record");
            n.replacement = std::move(*replacement);
            out.naptrs.push_back(std::move(n));
        } else {
            if (!same_name(ns_rr_name(rr), name)) continue;  // an SRV record is the service's own
            if (len < 7) return fail("malformed SRV record");
            auto target = read_name(msg, rd, 6, len);
            if (!target) return fail("malformed SRV record");
            out.records.push_back({get16(rd), get16(rd + 2), get16(rd + 4), std::move(*target)});
        }
    }
    // RFC 2782: a single record with the target "." says the service is not available at this domain.
    if (out.records.size() == 1 && out.records[0].target.empty()) out.records.clear();
    std::erase_if(out.records, [](const srv_record& r) { return r.target.empty() || r.port == 0; });
    out.ok = true;
    const bool found = !out.records.empty() || !out.addresses.empty() || !out.naptrs.empty();
    // A name with no records of the type (NODATA) is negative too; the "." SRV target is an answer.
    out.ttl = found || (type == dns_type::srv && least) ? least.value_or(0) : negative_ttl(msg);
    return out;
}

std::vector<naptr_record> order_naptr(std::vector<naptr_record> records) {
    std::stable_sort(records.begin(), records.end(), [](const naptr_record& a, const naptr_record& b) {
        return a.order != b.order ? a.order < b.order : a.preference < b.preference;
    });
    return records;
}

std::vector<srv_record> order_srv(std::vector<srv_record> records, const std::function<std::uint32_t()>& random) {
    std::stable_sort(records.begin(), records.end(),
                     [](const srv_record& a, const srv_record& b) { return a.priority < b.priority; });
    std::vector<srv_record> out;
    out.reserve(records.size());
    std::size_t begin = 0;
    while (begin < records.size()) {
        std::size_t end = begin;
        while (end < records.size() && records[end].priority == records[begin].priority) ++end;
        // RFC 2782: weight-0 records first, then pick by a running sum of the weights, one at a time.
        std::vector<srv_record> group(records.begin() + static_cast<std::ptrdiff_t>(begin),
                                      records.begin() + static_cast<std::ptrdiff_t>(end));
        std::stable_partition(group.begin(), group.end(), [](const srv_record& r) { return r.weight == 0; });
        while (!group.empty()) {
            std::uint64_t total = 0;
            for (const auto& r : group) total += r.weight;
            const std::uint64_t pick = total == 0 ? 0 : random() % (total + 1);
            std::uint64_t sum = 0;
            std::size_t chosen = 0;
            for (std::size_t i = 0; i < group.size(); ++i) {
                sum += group[i].weight;
                if (sum >= pick) {
                    chosen = i;
                    break;
                }
            }
            out.push_back(std::move(group[chosen]));
            group.erase(group.begin() + static_cast<std::ptrdiff_t>(chosen));
        }
        begin = end;
    }
    return out;
}

std::optional<name_server> parse_name_server(std::string_view text) {
    name_server ns;
    if (text.empty()) {
        struct __res_state state {};
        if (res_ninit(&state) == 0 && state.nscount > 0 && state.nsaddr_list[0].sin_family == AF_INET) {
            ns.address = asio::ip::address_v4(ntohl(state.nsaddr_list[0].sin_addr.s_addr));
            ns.port = ntohs(state.nsaddr_list[0].sin_port);
        } else {
            ns.address = asio::ip::address_v4::loopback();
        }
        res_nclose(&state);
        return ns;
    }
    // "[v6]" or "[v6]:port"; "v4" or "v4:port"; a bare IPv6 address (two colons or more) has no port.
    std::string_view host = text;
    std::string_view port;
    bool has_port = false;
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        const std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port = rest.substr(1);
            has_port = true;
        }
    } else if (const auto colon = text.find(':'); colon != std::string_view::npos && colon == text.rfind(':')) {
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        has_port = true;
    }
    std::error_code ec;
    ns.address = asio::ip::make_address(std::string(host), ec);
    if (ec) return std::nullopt;
    if (has_port) {
        std::uint64_t value = 0;
        bool overflow = false;
        if (port.size() > 5 || !sip::detail::parse_uint(port, 65535, value, overflow) || overflow || value == 0)
            return std::nullopt;
        ns.port = static_cast<std::uint16_t>(value);
    }
    return ns;
}

// ---- the resolver ------------------------------------------------------------------------------

struct srv_resolver::impl : std::enable_shared_from_this<impl> {
    // One question in flight: its socket, its retries, and what to do with the answer.
    struct query : std::enable_shared_from_this<query> {
        explicit query(asio::io_context& io) : socket(io), timer(io) {}
        asio::ip::udp::socket socket;
        asio::steady_timer timer;
        asio::ip::udp::endpoint server;
        asio::ip::udp::endpoint from;
        std::array<std::uint8_t, 4096> buffer{};
        std::vector<std::uint8_t> bytes;
        std::string name;
        dns_type type = dns_type::srv;
        std::uint16_t id = 0;
        int attempt = 0;
        bool over = false;
        std::function<void(dns_answer)> done;  // an answer, or !ok with the error
    };

    impl(asio::io_context& context, const std::string& server) : io(context), rng(std::random_device{}()) {
        if (auto ns = parse_name_server(server)) endpoint = asio::ip::udp::endpoint(ns->address, ns->port);
        else server_error = "not a DNS server address: " + server;
    }

    void finish(const std::shared_ptr<query>& q, dns_answer a) {
        if (q->over) return;
        q->over = true;
        std::error_code ignored;
        q->timer.cancel();
        q->socket.close(ignored);
        std::erase_if(active, [&](const std::weak_ptr<query>& w) { return w.expired() || w.lock() == q; });
        auto done = std::move(q->done);
        if (done) done(std::move(a));
    }
    void fail(const std::shared_ptr<query>& q, std::string why) {
        dns_answer a;
        a.error = std::move(why);
        finish(q, std::move(a));
    }

    void send(const std::shared_ptr<query>& q) {
        ++q->attempt;
        ++sent;
        std::error_code ec;
        q->socket.send_to(asio::buffer(q->bytes), q->server, 0, ec);
        if (ec) return fail(q, "DNS query for " + q->name + " not sent: " + ec.message());
        std::weak_ptr<impl> weak = weak_from_this();
        q->timer.expires_after(timeout);
        q->timer.async_wait([weak, q](std::error_code e) {
            auto self = weak.lock();
            if (!self || e || q->over) return;
            if (q->attempt < self->tries) return self->send(q);
            self->fail(q, "no answer from the DNS server " + q->server.address().to_string() + ":" +
                              std::to_string(q->server.port()) + " for " + q->name);
        });
    }

    void receive(const std::shared_ptr<query>& q) {
        std::weak_ptr<impl> weak = weak_from_this();
        q->socket.async_receive_from(asio::buffer(q->buffer), q->from, [weak, q](std::error_code e, std::size_t n) {
            auto self = weak.lock();
            if (!self || q->over || e == asio::error::operation_aborted) return;
            if (e) return self->fail(q, "DNS query for " + q->name + ": " + e.message());
            // Only the server's answer to this very query counts; anything else is ignored.
            if (q->from == q->server) {
                dns_answer a = read_dns_response(std::span(q->buffer.data(), n), q->id, q->name, q->type);
                if (!a.foreign) {
                    if (!a.ok) a.error += " for " + q->name;
                    return self->finish(q, std::move(a));
                }
            }
            self->receive(q);
        });
    }

    // The cache's key: the type and the name in lower case, without a final dot.
    static std::string cache_key(std::string_view name, dns_type type) {
        return std::to_string(static_cast<int>(type)) + ":" + sip::detail::lowercase(without_final_dot(name));
    }

    void remember(const std::string& key, const dns_answer& a) {
        const auto keep = std::min<std::chrono::seconds>(std::chrono::seconds(a.ttl), max_ttl);
        if (!a.ok || a.truncated || keep.count() <= 0) return;
        const time_point now = sipvoice::clock::now();
        if (cache.size() >= max_entries) std::erase_if(cache, [now](const auto& e) { return e.second.expires <= now; });
        if (cache.size() >= max_entries) cache.clear();
        cache[key] = {a, now + keep};
    }

    void ask(const std::string& name, dns_type type, std::function<void(dns_answer)> done) {
        const std::string key = cache_key(name, type);
        if (auto hit = cache.find(key); hit != cache.end()) {
            if (hit->second.expires > sipvoice::clock::now()) {
                std::weak_ptr<impl> weak = weak_from_this();
                asio::post(io, [weak, a = hit->second.answer, done = std::move(done)]() mutable {
                    if (weak.lock()) done(std::move(a));
                });
                return;
            }
            cache.erase(hit);
        }
        std::weak_ptr<impl> weak = weak_from_this();
        done = [weak, key, done = std::move(done)](dns_answer a) {
            if (auto self = weak.lock()) self->remember(key, a);
            done(std::move(a));
        };
        auto q = std::make_shared<query>(io);
        q->name = name;
        q->type = type;
        q->done = std::move(done);
        q->id = static_cast<std::uint16_t>(rng());
        active.push_back(q);
        auto fail_later = [this, weak, q](std::string why) {
            asio::post(io, [weak, q, why = std::move(why)] {
                if (auto self = weak.lock()) self->fail(q, why);
            });
        };
        if (!server_error.empty()) return fail_later(server_error);
        q->bytes = make_dns_query(name, type, q->id);
        if (q->bytes.empty()) return fail_later("not a DNS name: " + name);
        q->server = endpoint;
        std::error_code ec;
        q->socket.open(endpoint.protocol(), ec);
        if (!ec) q->socket.non_blocking(true, ec);
        if (ec) return fail_later("DNS socket: " + ec.message());
        receive(q);
        send(q);
    }

    void close() {
        for (auto& w : active)
            if (auto q = w.lock()) {
                q->over = true;
                q->done = nullptr;
                std::error_code ignored;
                q->timer.cancel();
                q->socket.close(ignored);
            }
        active.clear();
    }

    asio::io_context& io;
    std::mt19937 rng;
    asio::ip::udp::endpoint endpoint;
    std::string server_error;
    std::chrono::milliseconds timeout{1000};
    int tries = 2;
    std::vector<std::weak_ptr<query>> active;
    struct cached {
        dns_answer answer;
        time_point expires;
    };
    static constexpr std::size_t max_entries = 256;
    std::map<std::string, cached> cache;
    std::chrono::seconds max_ttl{3600};
    std::uint64_t sent = 0;
};

srv_resolver::srv_resolver(asio::io_context& io, std::string server) : impl_(std::make_shared<impl>(io, server)) {}

srv_resolver::~srv_resolver() { impl_->close(); }

void srv_resolver::lookup(const std::string& name, handler done) {
    std::weak_ptr<impl> weak = impl_;
    impl_->ask(name, dns_type::srv, [weak, done = std::move(done)](dns_answer a) {
        auto self = weak.lock();
        if (!self) return;
        if (!a.ok) return done({}, a.error);
        auto random = [&self] { return static_cast<std::uint32_t>(self->rng()); };
        done(order_srv(std::move(a.records), random), {});
    });
}

void srv_resolver::lookup_address(const std::string& name, address_handler done) {
    std::weak_ptr<impl> weak = impl_;
    impl_->ask(name, dns_type::a, [weak, name, done = std::move(done)](dns_answer a) mutable {
        auto self = weak.lock();
        if (!self) return;
        if (!a.ok) return done({}, a.error);
        if (!a.addresses.empty()) return done(std::move(a.addresses), {});
        // No IPv4 address: its IPv6 ones.
        self->ask(name, dns_type::aaaa, [done = std::move(done)](dns_answer b) {
            if (!b.ok) return done({}, b.error);
            done(std::move(b.addresses), {});
        });
    });
}

void srv_resolver::lookup_naptr(const std::string& name, naptr_handler done) {
    std::weak_ptr<impl> weak = impl_;
    impl_->ask(name, dns_type::naptr, [weak, done = std::move(done)](dns_answer a) {
        if (!weak.lock()) return;
        if (!a.ok) return done({}, a.error);
        done(order_naptr(std::move(a.naptrs)), {});
    });
}

void srv_resolver::set_timeout(std::chrono::milliseconds timeout, int tries) {
    impl_->timeout = timeout;
    impl_->tries = std::max(tries, 1);
}

void srv_resolver::set_cache_limit(std::chrono::seconds max_ttl) {
    impl_->max_ttl = std::max(max_ttl, std::chrono::seconds(0));
    if (max_ttl.count() <= 0) impl_->cache.clear();
}

std::uint64_t srv_resolver::queries_sent() const noexcept { return impl_->sent; }

}  // namespace sipvoice::transport

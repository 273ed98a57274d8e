// parser_bench: the sip/ message parser against oSIP2, Sofia-SIP and libre, one corpus, one run.
//
// Every stack parses each message completely and touches every header of the list once
// (start line, Via, From/To, Call-ID, CSeq, Contact, Max-Forwards, Content-Length, Content-Type,
// Route/Record-Route, Expires/Min-Expires, Allow/Supported/Require..., the auth headers, User-Agent/
// Server, Session-Expires, body). Each stack starts from the same bytes in a const buffer and copies
// them as its API requires (ours: into the std::string the message owns).
//
// Output: Google Benchmark's table (items/s = messages/s, bytes/s), then a summary with each
// stack's messages/s and MB/s over the whole corpus and sipvoice's ratio to each peer.
//
//   parser_bench [--corpus DIR] [google benchmark flags, e.g. --benchmark_min_time=0.5]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "fold.hpp"
#include "peers.hpp"
#include "sipvoice/sip/message.hpp"

namespace sip = sipvoice::sip;

namespace {

struct sample {
    std::string name;
    std::string bytes;
};
std::vector<sample> corpus;
std::size_t corpus_bytes = 0;

void load_corpus(const std::filesystem::path& dir) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".sip") continue;
        std::ifstream in(entry.path(), std::ios::binary);
        corpus.push_back({entry.path().stem().string(),
                          std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>())});
    }
    std::sort(corpus.begin(), corpus.end(), [](const sample& a, const sample& b) { return a.name < b.name; });
    for (const auto& s : corpus) corpus_bytes += s.bytes.size();
}

// Fold plus the shapes of our own views.
struct fold : sipvoice::bench::Fold {
    using Fold::str;
    void uri(const sip::uri& u) {
        str(u.scheme_name);
        str(u.user);
        str(u.host);
        num(u.port);
    }
    void addr(const sip::name_addr& a) {
        str(a.display_name);
        uri(a.address);
        str(a.tag());
    }
};

// Our parser: parse, then every header of the list once, through the typed accessors.
std::uint64_t parse_sipvoice(const char* data, std::size_t len) {
    auto m = sip::message::parse(std::string_view(data, len));
    if (!m) return 0;
    fold f;
    if (m->is_request()) {
        f.str(m->method_name());
        f.uri(m->request_uri());
    } else {
        f.num(static_cast<std::uint64_t>(m->status()));
        f.str(m->reason_phrase());
    }
    for (auto v : m->vias()) {
        if (!v) continue;
        f.str(v->transport);
        f.str(v->host);
        f.num(v->port);
        f.str(v->branch);
        f.str(v->received);
        f.num(v->rport);
    }
    if (auto from = m->from()) f.addr(*from);
    if (auto to = m->to()) f.addr(*to);
    if (auto id = m->call_id()) f.str(*id);
    if (auto cs = m->cseq()) {
        f.num(cs->number);
        f.str(cs->method);
    }
    for (auto c : m->contacts()) {
        if (!c) continue;
        f.addr(c->address);
        f.num(c->expires);
        f.num(static_cast<std::uint64_t>(c->q));
    }
    for (auto r : m->routes())
        if (r) f.uri(r->address);
    for (auto r : m->record_routes())
        if (r) f.uri(r->address);
    f.num(m->max_forwards().value_or(0U));
    f.num(m->content_length().value_or(0U));
    if (auto ct = m->content_type()) {
        f.str(ct->type);
        f.str(ct->subtype);
    }
    f.num(m->expires().value_or(0U));
    f.num(m->min_expires().value_or(0U));
    for (auto t : m->allow())
        if (t) f.str(t->text);
    for (auto t : m->supported())
        if (t) f.str(t->text);
    for (auto t : m->require())
        if (t) f.str(t->text);
    for (auto t : m->proxy_require())
        if (t) f.str(t->text);
    auto auth = [&](sip::header_values<sip::auth_value> values) {
        for (auto a : values) {
            if (!a) continue;
            f.str(a->scheme);
            f.str(a->params.get("realm"));
            f.str(a->params.get("nonce"));
        }
    };
    auth(m->www_authenticate());
    auth(m->proxy_authenticate());
    auth(m->authorization());
    auth(m->proxy_authorization());
    f.str(m->user_agent());
    f.str(m->server());
    if (auto se = m->session_expires()) f.num(se->delta);
    f.num(m->min_se().value_or(0U));
    f.str(m->body());
    return f.h;
}

// Our parser without the typed access: start line, header index, body. Not comparable with the peers'
// full parses (it is what a layer that reads a few headers pays before reading them); reported apart.
std::uint64_t index_sipvoice(const char* data, std::size_t len) {
    auto m = sip::message::parse(std::string_view(data, len));
    if (!m) return 0;
    fold f;
    f.num(m->fields().size());
    f.str(m->body());
    return f.h;
}

using parse_fn = std::uint64_t (*)(const char*, std::size_t);

void bench_one(benchmark::State& state, parse_fn fn, const sample* s) {
    std::uint64_t sink = 0;
    for (auto _ : state) {
        sink += fn(s->bytes.data(), s->bytes.size());
        benchmark::DoNotOptimize(sink);
    }
    if (sink == 0) state.SkipWithError("parse failed");
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(s->bytes.size()));
}

// The whole corpus per iteration: the summary's figures.
void bench_corpus(benchmark::State& state, parse_fn fn) {
    std::uint64_t sink = 0;
    bool ok = true;
    for (auto _ : state) {
        for (const auto& s : corpus) {
            const std::uint64_t r = fn(s.bytes.data(), s.bytes.size());
            ok = ok && r != 0;
            sink += r;
        }
        benchmark::DoNotOptimize(sink);
    }
    if (!ok) state.SkipWithError("a corpus message failed to parse");
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(corpus.size()));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(corpus_bytes));
}

// Collects items/s of the corpus runs for the summary.
class summary_reporter : public benchmark::ConsoleReporter {
public:
    std::map<std::string, std::pair<double, double>> corpus_rates;  // stack -> (msgs/s, bytes/s)
    std::pair<double, double> index_rate{};                          // sipvoice parse without typed access
    std::map<std::string, std::map<std::string, double>> per_message;  // message -> stack -> msgs/s

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& r : runs) {
            if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
            const std::string name = r.benchmark_name();  // parse/<stack>/<message>
            const auto a = name.find('/');
            const auto b = name.find('/', a + 1);
            if (a == std::string::npos || b == std::string::npos) continue;
            const std::string stack = name.substr(a + 1, b - a - 1);
            std::string what = name.substr(b + 1);
            what = what.substr(0, what.find('/'));
            const double items = r.counters.count("items_per_second") ? double(r.counters.at("items_per_second")) : 0;
            const double bytes = r.counters.count("bytes_per_second") ? double(r.counters.at("bytes_per_second")) : 0;
            if (what == "corpus" && name.rfind("index/", 0) == 0) index_rate = {items, bytes};
            else if (what == "corpus") corpus_rates[stack] = {items, bytes};
            else per_message[what][stack] = items;
        }
        ConsoleReporter::ReportRuns(runs);
    }
};

}  // namespace

int main(int argc, char** argv) {
    std::filesystem::path dir = SIPVOICE_BENCH_CORPUS_DIR;
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        if (std::strcmp(argv[i], "--corpus") == 0 && i + 1 < argc) {
            dir = argv[++i];
            continue;
        }
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            std::printf(
                "usage: parser_bench [--corpus DIR] [Google Benchmark flags]\n\n"
                "Parses every .sip file of DIR (default: the source tree's tools/bench/corpus) with\n"
                "sipvoice, oSIP2, Sofia-SIP and libre, touching every header once, and prints\n"
                "messages/s, MB/s and sipvoice's ratio to each peer.\n");
            return 0;
        }
        args.push_back(argv[i]);
    }
    int n = static_cast<int>(args.size());
    load_corpus(dir);
    if (corpus.empty()) {
        std::fprintf(stderr, "parser_bench: no .sip files in %s\n", dir.c_str());
        return 2;
    }
    sipvoice::bench::peers_init();

    const std::pair<const char*, parse_fn> stacks[] = {{"sipvoice", parse_sipvoice},
                                                       {"sofia", sipvoice::bench::parse_sofia},
                                                       {"osip", sipvoice::bench::parse_osip},
                                                       {"libre", sipvoice::bench::parse_re}};
    // Every stack must accept every corpus message, or the comparison means nothing.
    for (const auto& [name, fn] : stacks)
        for (const auto& s : corpus)
            if (fn(s.bytes.data(), s.bytes.size()) == 0) {
                std::fprintf(stderr, "parser_bench: %s rejects %s\n", name, s.name.c_str());
                return 1;
            }
    for (const auto& [name, fn] : stacks)
        benchmark::RegisterBenchmark((std::string("parse/") + name + "/corpus").c_str(), bench_corpus, fn);
    benchmark::RegisterBenchmark("index/sipvoice/corpus", bench_corpus, index_sipvoice);
    for (const auto& s : corpus)
        for (const auto& [name, fn] : stacks)
            benchmark::RegisterBenchmark((std::string("parse/") + name + "/" + s.name).c_str(), bench_one, fn, &s);

    benchmark::Initialize(&n, args.data());
    summary_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);

    std::cout.flush();  // the reporter writes through std::cout, the summary through stdio
    const auto ours = reporter.corpus_rates.find("sipvoice");
    if (ours == reporter.corpus_rates.end()) return 0;
    std::printf("\nSummary: whole corpus (%zu messages, %zu bytes), one core\n", corpus.size(), corpus_bytes);
    std::printf("%-10s %14s %10s %18s\n", "stack", "messages/s", "MB/s", "sipvoice ratio");
    for (const auto& [name, fn] : stacks) {
        const auto it = reporter.corpus_rates.find(name);
        if (it == reporter.corpus_rates.end()) continue;
        const double ratio = it->second.first > 0 ? ours->second.first / it->second.first : 0;
        std::printf("%-10s %14.0f %10.1f %17.2fx\n", name, it->second.first, it->second.second / 1e6, ratio);
    }
    if (reporter.index_rate.first > 0)
        std::printf("%-10s %14.0f %10.1f %18s\n", "(index)", reporter.index_rate.first, reporter.index_rate.second / 1e6,
                    "not comparable");
    if (!reporter.per_message.empty()) {
        std::printf("\nPer message: sipvoice messages/s and ratio to each peer\n");
        std::printf("%-20s %12s %9s %9s %9s\n", "message", "sipvoice", "/sofia", "/osip", "/libre");
        for (const auto& [msg, rates] : reporter.per_message) {
            auto rate = [&](const char* s) { auto it = rates.find(s); return it == rates.end() ? 0.0 : it->second; };
            const double us = rate("sipvoice");
            auto ratio = [&](const char* s) { return rate(s) > 0 ? us / rate(s) : 0.0; };
            std::printf("%-20s %12.0f %8.2fx %8.2fx %8.2fx\n", msg.c_str(), us, ratio("sofia"), ratio("osip"), ratio("libre"));
        }
    }
    return 0;
}

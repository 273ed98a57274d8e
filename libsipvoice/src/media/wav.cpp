// WAV (RIFF WAVE) reading and writing; see wav.hpp for what is accepted and why.
#include "sipvoice/media/wav.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>

#include "sipvoice/codec/g711.hpp"

namespace sipvoice::media {
namespace {

constexpr std::uint16_t format_pcm = 1;          // WAVE_FORMAT_PCM
constexpr std::uint16_t format_alaw = 6;         // WAVE_FORMAT_ALAW
constexpr std::uint16_t format_mulaw = 7;        // WAVE_FORMAT_MULAW
constexpr std::uint16_t format_extensible = 0xFFFE;
// The KSDATAFORMAT_SUBTYPE_* GUIDs are the format code followed by these 14 octets.
constexpr std::array<std::uint8_t, 14> subformat_tail{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                                      0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
constexpr std::size_t header_size = 44;  // canonical header: RIFF + fmt (16) + data chunk header
constexpr std::uint64_t max_data = std::numeric_limits<std::uint32_t>::max() - (header_size - 8);

std::uint16_t get16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t get32(const std::uint8_t* p) noexcept {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
void put16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
}
void put32(std::uint8_t* p, std::uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
bool is_tag(const std::uint8_t* p, const char (&tag)[5]) noexcept { return std::memcmp(p, tag, 4) == 0; }

// What a PCM 16-bit header can describe: 1 or 2 channels, a rate whose byte rate fits 32 bits.
bool writable(std::uint32_t rate, std::uint16_t channels) noexcept {
    return rate != 0 && (channels == 1 || channels == 2) &&
           static_cast<std::uint64_t>(rate) * 2 * channels <= std::numeric_limits<std::uint32_t>::max();
}

// The sizes of a header whose data chunk holds `data_bytes` (at most max_data).
std::uint32_t riff_size(std::uint64_t data_bytes) noexcept { return static_cast<std::uint32_t>(header_size - 8 + data_bytes); }

std::array<std::uint8_t, header_size> make_header(std::uint32_t rate, std::uint16_t channels, std::uint32_t riff,
                                                  std::uint32_t data) {
    std::array<std::uint8_t, header_size> h{};
    const auto block = static_cast<std::uint16_t>(2 * channels);
    std::memcpy(h.data(), "RIFF", 4);
    put32(h.data() + 4, riff);
    std::memcpy(h.data() + 8, "WAVEfmt ", 8);
    put32(h.data() + 16, 16);
    put16(h.data() + 20, format_pcm);
    put16(h.data() + 22, channels);
    put32(h.data() + 24, rate);
    put32(h.data() + 28, rate * block);
    put16(h.data() + 32, block);
    put16(h.data() + 34, 16);
    std::memcpy(h.data() + 36, "data", 4);
    put32(h.data() + 40, data);
    return h;
}

// Samples as little-endian octets.
void to_le(std::span<const std::int16_t> in, std::uint8_t* out) noexcept {
    if (in.empty()) return;  // data() may be null
    if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(out, in.data(), in.size() * 2);
    } else {
        for (std::size_t i = 0; i < in.size(); ++i) put16(out + 2 * i, static_cast<std::uint16_t>(in[i]));
    }
}

struct fmt_info {
    std::uint16_t format = 0;  // after resolving WAVE_FORMAT_EXTENSIBLE
    std::uint16_t channels = 0;
    std::uint32_t rate = 0;
    std::uint32_t byte_rate = 0;
    std::uint16_t block_align = 0;
    std::uint16_t bits = 0;
};

wav_result<fmt_info> read_fmt(const std::uint8_t* p, std::uint32_t size, std::uint64_t at) {
    // at: offset of the chunk's data
    if (size < 16) return wav_error{wav_errc::bad_fmt, at - 4};
    fmt_info f;
    f.format = get16(p);
    f.channels = get16(p + 2);
    f.rate = get32(p + 4);
    f.byte_rate = get32(p + 8);
    f.block_align = get16(p + 12);
    f.bits = get16(p + 14);
    if (f.format == format_extensible) {
        // cbSize (2), valid bits (2), channel mask (4), sub-format GUID (16).
        if (size < 40 || get16(p + 16) < 22) return wav_error{wav_errc::bad_fmt, at - 4};
        if (std::memcmp(p + 26, subformat_tail.data(), subformat_tail.size()) != 0)
            return wav_error{wav_errc::unsupported_format, at + 24};
        f.format = get16(p + 24);
    }
    if (f.format != format_pcm && f.format != format_alaw && f.format != format_mulaw)
        return wav_error{wav_errc::unsupported_format, at};
    if (f.channels != 1 && f.channels != 2) return wav_error{wav_errc::bad_channels, at + 2};
    if (f.rate == 0) return wav_error{wav_errc::bad_sample_rate, at + 4};
    const bool bits_ok = f.format == format_pcm ? (f.bits == 8 || f.bits == 16) : f.bits == 8;
    if (!bits_ok) return wav_error{wav_errc::unsupported_bits, at + 14};
    if (f.block_align != f.channels * (f.bits / 8)) return wav_error{wav_errc::bad_block_align, at + 12};
    if (f.byte_rate != static_cast<std::uint64_t>(f.rate) * f.block_align) return wav_error{wav_errc::bad_byte_rate, at + 8};
    return f;
}

}  // namespace

std::string_view describe(wav_errc code) noexcept {
    switch (code) {
        case wav_errc::ok: return "no error";
        case wav_errc::open_failed: return "cannot open the file";
        case wav_errc::read_failed: return "cannot read the file";
        case wav_errc::write_failed: return "cannot write the file";
        case wav_errc::not_riff: return "not a RIFF file (no \"RIFF\" at the start)";
        case wav_errc::not_wave: return "RIFF form type is not \"WAVE\"";
        case wav_errc::truncated: return "file ends before the end its headers declare";
        case wav_errc::bad_riff_size: return "RIFF size smaller than the chunks it holds";
        case wav_errc::missing_fmt: return "no \"fmt \" chunk";
        case wav_errc::duplicate_fmt: return "more than one \"fmt \" chunk";
        case wav_errc::missing_data: return "no \"data\" chunk";
        case wav_errc::duplicate_data: return "more than one \"data\" chunk";
        case wav_errc::bad_fmt: return "\"fmt \" chunk too short for its format";
        case wav_errc::unsupported_format: return "format is not PCM, A-law or mu-law";
        case wav_errc::unsupported_bits: return "unsupported bits per sample (PCM 8 or 16, G.711 8)";
        case wav_errc::bad_channels: return "channel count is not 1 or 2";
        case wav_errc::bad_sample_rate: return "sample rate is 0";
        case wav_errc::bad_block_align: return "block align is not channels * bytes per sample";
        case wav_errc::bad_byte_rate: return "byte rate is not sample rate * block align";
        case wav_errc::partial_frame: return "data is not a whole number of sample frames";
        case wav_errc::too_large: return "audio too large for a WAV file (4 GiB)";
        case wav_errc::not_open: return "WAV writer is not open";
        case wav_errc::bad_argument: return "sample rate 0 or too high, or channel count not 1 or 2";
    }
    return "unknown error";
}

wav_result<wav_audio> parse_wav(std::span<const std::uint8_t> bytes, const wav_read_options& options) {
    const std::uint8_t* p = bytes.data();
    if (bytes.size() < 12) {
        if (bytes.size() >= 4 && !is_tag(p, "RIFF")) return wav_error{wav_errc::not_riff, 0};
        return wav_error{wav_errc::truncated, bytes.size()};
    }
    if (!is_tag(p, "RIFF")) return wav_error{wav_errc::not_riff, 0};
    if (!is_tag(p + 8, "WAVE")) return wav_error{wav_errc::not_wave, 8};
    // The RIFF chunk ends where its size says; octets after it are not ours (ignored).
    std::uint64_t end = 8 + static_cast<std::uint64_t>(get32(p + 4));
    if (end < 12) return wav_error{wav_errc::truncated, 4};
    if (end > bytes.size()) {
        if (!options.allow_truncated) return wav_error{wav_errc::truncated, bytes.size()};
        end = bytes.size();
    }

    bool have_fmt = false;
    fmt_info fmt;
    bool have_data = false;
    std::uint64_t data_at = 0;
    std::uint64_t data_size = 0;
    std::uint64_t at = 12;
    while (at < end) {
        if (end - at < 8) {
            if (options.allow_truncated && have_fmt && have_data) break;
            return wav_error{wav_errc::truncated, at};
        }
        const std::uint8_t* chunk = p + at;
        const std::uint32_t size = get32(chunk + 4);
        const std::uint64_t body = at + 8;
        const std::uint64_t available = end - body;
        if (size > available) {
            // A chunk that fits the file but not the RIFF size: the RIFF size is wrong.
            if (end < bytes.size() && body + size <= bytes.size()) return wav_error{wav_errc::bad_riff_size, 4};
            // Only a data chunk may be cut short (or what follows the audio), and only on request.
            if (!options.allow_truncated) return wav_error{wav_errc::truncated, at};
            if (!is_tag(chunk, "data")) {
                if (have_fmt && have_data) break;
                return wav_error{wav_errc::truncated, at};
            }
        }
        if (is_tag(chunk, "fmt ")) {
            if (have_fmt) return wav_error{wav_errc::duplicate_fmt, at};
            auto f = read_fmt(p + body, size, body);
            if (!f) return f.error();
            fmt = *f;
            have_fmt = true;
        } else if (is_tag(chunk, "data")) {
            if (have_data) return wav_error{wav_errc::duplicate_data, at};
            have_data = true;
            data_at = body;
            data_size = std::min<std::uint64_t>(size, available);
        }
        at = body + size + (size & 1u);  // RIFF chunks are padded to an even length
    }
    if (!have_fmt) return wav_error{wav_errc::missing_fmt, 12};
    if (!have_data) return wav_error{wav_errc::missing_data, 12};
    if (data_size % fmt.block_align != 0) {
        if (!options.allow_truncated) return wav_error{wav_errc::partial_frame, data_at - 4};
        data_size -= data_size % fmt.block_align;
    }

    wav_audio audio;
    audio.sample_rate = fmt.rate;
    audio.channels = fmt.channels;
    const std::uint8_t* d = p + data_at;
    const std::size_t n = static_cast<std::size_t>(data_size / (fmt.bits / 8));
    audio.samples.resize(n);
    switch (fmt.format) {
        case format_pcm:
            if (fmt.bits == 16) {
                audio.encoding = wav_encoding::pcm16;
                for (std::size_t i = 0; i < n; ++i) audio.samples[i] = static_cast<std::int16_t>(get16(d + 2 * i));
            } else {
                audio.encoding = wav_encoding::pcm8;  // unsigned, 128 is zero
                for (std::size_t i = 0; i < n; ++i) audio.samples[i] = static_cast<std::int16_t>((d[i] - 128) * 256);
            }
            break;
        case format_alaw:
            audio.encoding = wav_encoding::alaw;
            codec::g711::decode_alaw({d, n}, audio.samples);
            break;
        case format_mulaw:
            audio.encoding = wav_encoding::ulaw;
            codec::g711::decode_ulaw({d, n}, audio.samples);
            break;
        default: break;
    }
    return audio;
}

wav_result<wav_audio> read_wav(const std::filesystem::path& path, const wav_read_options& options) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) return wav_error{wav_errc::open_failed, 0};
    std::vector<std::uint8_t> bytes;
    std::array<std::uint8_t, 65536> buffer;
    for (;;) {
        const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), f.get());
        bytes.insert(bytes.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
        if (n < buffer.size()) break;
    }
    if (std::ferror(f.get())) return wav_error{wav_errc::read_failed, bytes.size()};
    return parse_wav(bytes, options);
}

wav_result<std::vector<std::uint8_t>> serialize_wav(const wav_audio& audio) {
    if (!writable(audio.sample_rate, audio.channels)) return wav_error{wav_errc::bad_argument, 0};
    if (audio.samples.size() % audio.channels != 0) return wav_error{wav_errc::partial_frame, 0};
    const std::uint64_t data_bytes = 2 * static_cast<std::uint64_t>(audio.samples.size());
    if (data_bytes > max_data) return wav_error{wav_errc::too_large, 0};
    std::vector<std::uint8_t> out(header_size + data_bytes);
    const auto h = make_header(audio.sample_rate, audio.channels, riff_size(data_bytes),
                               static_cast<std::uint32_t>(data_bytes));
    std::memcpy(out.data(), h.data(), h.size());
    to_le(audio.samples, out.data() + header_size);
    return out;
}

wav_error write_wav(const std::filesystem::path& path, const wav_audio& audio) {
    if (!writable(audio.sample_rate, audio.channels)) return {wav_errc::bad_argument, 0};
    wav_writer w;
    if (auto e = w.open(path, audio.sample_rate, audio.channels); e.failed()) return e;
    if (auto e = w.write(audio.samples); e.failed()) return e;
    return w.close();
}

// ---- wav_writer

void wav_writer::closer::operator()(std::FILE* f) const noexcept { std::fclose(f); }

wav_writer& wav_writer::operator=(wav_writer&& other) noexcept {
    if (this != &other) {
        (void)close();
        file_ = std::move(other.file_);
        rate_ = other.rate_;
        channels_ = other.channels_;
        data_bytes_ = other.data_bytes_;
        other.rate_ = 0;
        other.channels_ = 0;
        other.data_bytes_ = 0;
    }
    return *this;
}

wav_writer::~wav_writer() { (void)close(); }

wav_error wav_writer::open(const std::filesystem::path& path, std::uint32_t sample_rate, std::uint16_t channels) {
    if (is_open()) (void)close();
    if (!writable(sample_rate, channels)) return {wav_errc::bad_argument, 0};
    file_.reset(std::fopen(path.c_str(), "wb"));
    if (!file_) return {wav_errc::open_failed, 0};
    rate_ = sample_rate;
    channels_ = channels;
    data_bytes_ = 0;
    // Until flush() or close() the sizes say "as long as it gets" (0xFFFFFFFF, the usual mark of a
    // stream of unknown length): if the process dies first, a reader told to allow_truncated still
    // gets every whole frame, and any other reader says truncated instead of reading nothing.
    const auto h = make_header(rate_, channels_, 0xFFFFFFFFu, 0xFFFFFFFFu);
    if (std::fwrite(h.data(), 1, h.size(), file_.get()) != h.size()) {
        file_.reset();
        return {wav_errc::write_failed, 0};
    }
    return {};
}

wav_error wav_writer::write(std::span<const std::int16_t> samples) {
    if (!is_open()) return {wav_errc::not_open, 0};
    if (samples.size() % channels_ != 0) return {wav_errc::partial_frame, header_size + data_bytes_};
    const std::uint64_t bytes = 2 * static_cast<std::uint64_t>(samples.size());
    if (data_bytes_ + bytes > max_data) return {wav_errc::too_large, header_size + data_bytes_};
    std::array<std::uint8_t, 8192> buffer;
    while (!samples.empty()) {
        const std::size_t n = std::min(samples.size(), buffer.size() / 2);
        to_le(samples.first(n), buffer.data());
        if (std::fwrite(buffer.data(), 2, n, file_.get()) != n) return {wav_errc::write_failed, header_size + data_bytes_};
        data_bytes_ += 2 * n;
        samples = samples.subspan(n);
    }
    return {};
}

wav_error wav_writer::fix_sizes() {
    std::FILE* f = file_.get();
    std::array<std::uint8_t, 4> v;
    put32(v.data(), riff_size(data_bytes_));
    if (std::fseek(f, 4, SEEK_SET) != 0 || std::fwrite(v.data(), 1, 4, f) != 4) return {wav_errc::write_failed, 4};
    put32(v.data(), static_cast<std::uint32_t>(data_bytes_));
    if (std::fseek(f, 40, SEEK_SET) != 0 || std::fwrite(v.data(), 1, 4, f) != 4) return {wav_errc::write_failed, 40};
    if (std::fseek(f, 0, SEEK_END) != 0) return {wav_errc::write_failed, 0};
    return {};
}

wav_error wav_writer::flush() {
    if (!is_open()) return {wav_errc::not_open, 0};
    if (auto e = fix_sizes(); e.failed()) return e;
    if (std::fflush(file_.get()) != 0) return {wav_errc::write_failed, 0};
    return {};
}

wav_error wav_writer::close() {
    if (!is_open()) return {wav_errc::not_open, 0};
    wav_error e = fix_sizes();
    // fclose flushes: its failure (disk full) is a failure to write.
    if (std::fclose(file_.release()) != 0 && !e.failed()) e = {wav_errc::write_failed, 0};
    return e;
}

}  // namespace sipvoice::media

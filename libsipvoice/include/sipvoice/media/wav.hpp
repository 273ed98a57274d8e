// sipvoice/media/wav.hpp: WAV files (RIFF WAVE) in and out, for playing prompts into a call and
// recording what a call hears.
//
// Reading takes what telephony tools write: PCM 16-bit (format code 1, or WAVE_FORMAT_EXTENSIBLE
// 0xFFFE with the PCM sub-format), 8-bit unsigned PCM, and 8-bit G.711 A-law (code 6) and mu-law
// (code 7) such as Asterisk and SoX produce; mono or stereo; any sample rate. Everything becomes
// interleaved PCM16 (G.711 through codec/g711, so the levels are G.711's). Chunks are read in any
// order; unknown ones (LIST, fact, cue ...) are skipped, odd-sized chunks have their pad octet
// (RIFF). A file that is not exactly what its headers say is rejected, not half-read, with the
// reason and the byte offset of the field or chunk at fault (truncated at 36: the data chunk that
// declares more octets than the file has; bad_block_align at 32). One leniency, on request:
// allow_truncated keeps the whole frames of a data chunk cut short (a recording whose writer died
// before fixing the sizes).
//
// Writing is PCM 16-bit little-endian with the canonical 44-octet header. wav_writer streams: open,
// write frames as they come, close; the RIFF and data sizes are written as 0xFFFFFFFF ("unknown") at
// open and fixed on close() (and on flush(), so a long recording on disk stays readable while it
// grows; a file whose writer died can still be read with allow_truncated).
//
//   auto prompt = media::read_wav("welcome.wav");
//   if (!prompt) log("%s at %llu", prompt.error().what().data(), prompt.error().offset);
//   media::wav_writer rec;
//   if (auto e = rec.open("call.wav", 8000, 1); e.failed()) ...
//   rec.write(frame);  ...  rec.close();
//
// This is media/: it does file I/O (std::FILE), and is not part of the sans-I/O set. parse_wav() and
// serialize_wav() are the byte-level halves, usable without files. Errors are values.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "sipvoice/result.hpp"

namespace sipvoice::media {

enum class wav_errc : std::uint8_t {
    ok = 0,
    open_failed,         // the file could not be opened (or created)
    read_failed,         // reading it failed
    write_failed,        // writing, seeking or closing failed (disk full ...)
    not_riff,            // does not start with "RIFF"
    not_wave,            // the RIFF form type is not "WAVE"
    truncated,           // ends inside a chunk header, or before the end of a chunk or of the RIFF size
    bad_riff_size,       // a chunk runs past the end the RIFF size gives, though the file goes on
    missing_fmt,         // no "fmt " chunk
    duplicate_fmt,       // two "fmt " chunks
    missing_data,        // no "data" chunk
    duplicate_data,      // two "data" chunks
    bad_fmt,             // fmt chunk too short for its format (16 octets; 40 for WAVE_FORMAT_EXTENSIBLE)
    unsupported_format,  // format code other than PCM (1), A-law (6), mu-law (7), extensible (0xFFFE) of those
    unsupported_bits,    // PCM that is not 8 or 16 bits, G.711 that is not 8 bits
    bad_channels,        // channel count other than 1 or 2
    bad_sample_rate,     // sample rate 0
    bad_block_align,     // block align not channels * bytes per sample
    bad_byte_rate,       // byte rate not sample rate * block align
    partial_frame,       // data size not a multiple of block align; a write of an incomplete frame
    too_large,           // above the 4 GiB a RIFF size can describe
    not_open,            // a wav_writer used before open() or after close()
    bad_argument,        // writing audio with a channel count other than 1 or 2, a rate of 0, or one
                         // so high that the byte rate does not fit 32 bits
};

// A short English description of the code, for logs.
std::string_view describe(wav_errc code) noexcept;

struct wav_error {
    wav_errc code = wav_errc::ok;
    std::uint64_t offset = 0;  // byte offset in the file of the field or chunk at fault

    [[nodiscard]] constexpr bool failed() const noexcept { return code != wav_errc::ok; }
    [[nodiscard]] std::string_view what() const noexcept { return describe(code); }
    friend constexpr bool operator==(const wav_error&, const wav_error&) = default;
};

template <class T>
using wav_result = sipvoice::result<T, wav_error>;

// How the samples were stored in the file that was read.
enum class wav_encoding : std::uint8_t { pcm16, pcm8, alaw, ulaw };

struct wav_audio {
    std::uint32_t sample_rate = 8000;
    std::uint16_t channels = 1;
    std::vector<std::int16_t> samples;  // interleaved: L R L R ... for stereo
    wav_encoding encoding = wav_encoding::pcm16;

    [[nodiscard]] std::size_t frames() const noexcept { return channels == 0 ? 0 : samples.size() / channels; }
};

struct wav_read_options {
    // Accept a data chunk (and RIFF size) that runs past the end of the file: keep the whole frames
    // that are there. Off: such a file is errc::truncated.
    bool allow_truncated = false;
};

wav_result<wav_audio> parse_wav(std::span<const std::uint8_t> bytes, const wav_read_options& options = {});
wav_result<wav_audio> read_wav(const std::filesystem::path& path, const wav_read_options& options = {});

// PCM 16-bit WAV bytes of `audio` (its `encoding` is ignored). bad_argument for a rate or channel
// count a PCM 16-bit header cannot hold, partial_frame when the samples are not whole frames.
wav_result<std::vector<std::uint8_t>> serialize_wav(const wav_audio& audio);
wav_error write_wav(const std::filesystem::path& path, const wav_audio& audio);

// Streams PCM 16-bit to a file. Closes (fixing the sizes) when destroyed, but only close() reports
// whether that worked.
class wav_writer {
public:
    wav_writer() noexcept = default;
    wav_writer(wav_writer&&) noexcept = default;
    wav_writer& operator=(wav_writer&& other) noexcept;
    wav_writer(const wav_writer&) = delete;
    wav_writer& operator=(const wav_writer&) = delete;
    ~wav_writer();

    // Creates (or truncates) the file and writes the header. A writer already open is closed first.
    wav_error open(const std::filesystem::path& path, std::uint32_t sample_rate, std::uint16_t channels);
    // Appends interleaved samples: a multiple of channels(), else partial_frame and nothing written.
    wav_error write(std::span<const std::int16_t> samples);
    // Writes the current sizes into the header and flushes, so the file is complete as it stands.
    wav_error flush();
    // flush(), then closes. The writer can be opened again.
    wav_error close();

    [[nodiscard]] bool is_open() const noexcept { return file_ != nullptr; }
    [[nodiscard]] std::uint32_t sample_rate() const noexcept { return rate_; }
    [[nodiscard]] std::uint16_t channels() const noexcept { return channels_; }
    [[nodiscard]] std::uint64_t frames_written() const noexcept { return channels_ == 0 ? 0 : data_bytes_ / 2 / channels_; }

private:
    struct closer {
        void operator()(std::FILE* f) const noexcept;
    };
    wav_error fix_sizes();
    std::unique_ptr<std::FILE, closer> file_;
    std::uint32_t rate_ = 0;
    std::uint16_t channels_ = 0;
    std::uint64_t data_bytes_ = 0;
};

}  // namespace sipvoice::media

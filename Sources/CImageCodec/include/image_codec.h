// Decoding of JPEG and PNG through libjpeg(-turbo) and libpng, and the inner loops of 8-bit resampling.
// libjpeg and libpng report errors by longjmp; that must happen in C,
// so this small layer turns every failure into a return code and a message.
#ifndef ALVLM_IMAGE_CODEC_H
#define ALVLM_IMAGE_CODEC_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    AC_GRAY = 1,        // 1 channel
    AC_GRAY_ALPHA = 2,  // 2 channels
    AC_RGB = 3,         // 3 channels
    AC_RGBA = 4,        // 4 channels
    AC_CMYK = 5,        // 4 channels, as libjpeg returns them
    AC_PALETTE = 6      // 1 channel of indices into palette
} ac_color;

typedef struct {
    int width, height;
    int channels;          // samples per pixel in `pixels`
    int bit_depth;         // 8 or 16 (16: host-order uint16 samples)
    ac_color color;
    int adobe_marker;      // JPEG: an Adobe APP14 marker was present
    int source_bit_depth;  // PNG: bit depth in the file (1,2,4,8,16)
    uint8_t *pixels;       // malloc'd, row-major, width*channels*(bit_depth/8) bytes per row
    uint8_t palette[256 * 3];
    int palette_size;
    char error[256];
} ac_image;

// Return 0 on success; otherwise non-zero with `error` filled and nothing to free.
/// Decode; images of more than `max_pixels` pixels are refused before any pixel memory is allocated (0: the
/// built-in limit, 2^28).
int ac_decode_jpeg(const uint8_t *data, size_t length, size_t max_pixels, ac_image *out);
int ac_decode_png(const uint8_t *data, size_t length, size_t max_pixels, ac_image *out);
void ac_image_free(ac_image *image);

// Pillow's 8-bit resampling, one output row of a separable pass (resample8.c):
// dst[i] = clamp((2^(bits-1) + sum over t < taps of src[t * stride + i] * k[t]) >> bits, 0, 255) for i < len.
void ac_resample_row(const uint8_t *src, size_t stride, const int32_t *k, int taps, int bits, uint8_t *dst, size_t len);
// Chooses the row kernel: 2 AVX-512 (if the CPU has it), 1 AVX2 (if it has it), 0 the baseline; returns the
// level in use. Without a call the best available is used. For tests: every level gives the same bytes.
int ac_resample_use(int level);
// dst (cols x rows) = the transpose of src (rows x cols), elements of `bands` bytes; strides in bytes.
void ac_transpose(const uint8_t *src, size_t src_stride, int rows, int cols, int bands, uint8_t *dst, size_t dst_stride);

// Writes 8-bit RGB pixels as a PNG file. Returns 0 on success, otherwise fills `error` (256 bytes).
int ac_write_png(const char *path, const uint8_t *rgb, int width, int height, char *error);

#endif

#include "image_codec.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

static const size_t kMaxPixels = (size_t)1 << 28; // 268 M pixels: refuse decompression bombs

void ac_image_free(ac_image *image) {
    free(image->pixels);
    image->pixels = NULL;
}

// ---------------------------------------------------------------- JPEG

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;
    int truncated;
} jpeg_failure;

static void jpeg_fail(j_common_ptr cinfo) {
    jpeg_failure *failure = (jpeg_failure *)cinfo->err;
    char buffer[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buffer);
    snprintf(failure->message, 256, "corrupt JPEG: %s", buffer);
    longjmp(failure->jump, 1);
}

static void jpeg_warn(j_common_ptr cinfo, int level) {
    // Data ending before the image does is an error (Pillow: "image file is truncated"); other warnings pass.
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) ((jpeg_failure *)cinfo->err)->truncated = 1;
}

int ac_decode_jpeg(const uint8_t *data, size_t length, size_t max_pixels, ac_image *out) {
    memset(out, 0, sizeof(*out));
    const size_t limit = max_pixels ? max_pixels : kMaxPixels;
    struct jpeg_decompress_struct cinfo;
    jpeg_failure failure;
    cinfo.err = jpeg_std_error(&failure.base);
    failure.base.error_exit = jpeg_fail;
    failure.base.emit_message = jpeg_warn;
    failure.message = out->error;
    failure.truncated = 0;
    uint8_t *volatile pixels = NULL;
    if (setjmp(failure.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free((void *)pixels);
        out->pixels = NULL;
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (unsigned char *)data, (unsigned long)length);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 14, 0xFFFF);
    if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
        snprintf(out->error, sizeof(out->error), "corrupt JPEG: no image header");
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    out->adobe_marker = cinfo.saw_Adobe_marker ? 1 : 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo.out_color_space = JCS_GRAYSCALE; out->color = AC_GRAY; out->channels = 1; break;
    case JCS_CMYK: case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK; out->color = AC_CMYK; out->channels = 4; break;
    default:
        cinfo.out_color_space = JCS_RGB; out->color = AC_RGB; out->channels = 3; break;
    }
    // Pillow's defaults: islow DCT, fancy upsampling, no scaling.
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&cinfo);
    out->width = (int)cinfo.output_width;
    out->height = (int)cinfo.output_height;
    out->bit_depth = 8;
    out->source_bit_depth = 8;
    if (out->width > 0 && out->height > 0 && (size_t)out->width * (size_t)out->height > limit) {
        snprintf(out->error, sizeof(out->error), "a %dx%d image is over the limit of %zu pixels (ALVLM_MAX_IMAGE_PIXELS raises it)",
                 out->width, out->height, limit);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    if ((int)cinfo.output_components != out->channels || out->width <= 0 || out->height <= 0) {
        snprintf(out->error, sizeof(out->error), "unsupported JPEG: %dx%d with %d components",
                 out->width, out->height, (int)cinfo.output_components);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    size_t stride = (size_t)out->width * (size_t)out->channels;
    pixels = malloc(stride * (size_t)out->height);
    if (!pixels) {
        snprintf(out->error, sizeof(out->error), "out of memory decoding JPEG");
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * cinfo.output_scanline);
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    if (failure.truncated) {
        snprintf(out->error, sizeof(out->error), "truncated JPEG: the image data ends early");
        jpeg_destroy_decompress(&cinfo);
        free((void *)pixels);
        return 1;
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    out->pixels = (uint8_t *)pixels;
    return 0;
}

// ---------------------------------------------------------------- PNG

typedef struct {
    const uint8_t *data;
    size_t length, offset;
} png_source;

static void png_read_memory(png_structp png, png_bytep dest, png_size_t count) {
    png_source *source = (png_source *)png_get_io_ptr(png);
    if (source->offset + count > source->length) png_error(png, "truncated file");
    memcpy(dest, source->data + source->offset, count);
    source->offset += count;
}

static void png_fail(png_structp png, png_const_charp message) {
    char *error = (char *)png_get_error_ptr(png);
    snprintf(error, 256, "corrupt PNG: %s", message);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp message) { (void)png; (void)message; }

int ac_decode_png(const uint8_t *data, size_t length, size_t max_pixels, ac_image *out) {
    memset(out, 0, sizeof(*out));
    const size_t limit = max_pixels ? max_pixels : kMaxPixels;
    if (length < 8 || png_sig_cmp(data, 0, 8)) {
        snprintf(out->error, sizeof(out->error), "not a PNG file");
        return 1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, out->error, png_fail, png_warn);
    if (!png) { snprintf(out->error, sizeof(out->error), "out of memory"); return 1; }
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free((void *)pixels); free((void *)rows);
        if (!out->error[0]) snprintf(out->error, sizeof(out->error), "corrupt PNG");
        return 1;
    }
    png_source source = { data, length, 0 };
    png_set_read_fn(png, &source, png_read_memory);
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_WARN_DISCARD);
    png_read_info(png, info);
    png_uint_32 width, height;
    int depth, type, interlace;
    png_get_IHDR(png, info, &width, &height, &depth, &type, &interlace, NULL, NULL);
    out->width = (int)width; out->height = (int)height; out->source_bit_depth = depth;
    if ((size_t)width * (size_t)height > limit) {   // before any pixel memory is allocated
        snprintf(out->error, sizeof(out->error), "a %ux%u image is over the limit of %zu pixels (ALVLM_MAX_IMAGE_PIXELS raises it)",
                 (unsigned)width, (unsigned)height, limit);
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    switch (type) {
    case PNG_COLOR_TYPE_GRAY: out->color = AC_GRAY; out->channels = 1;
        if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: out->color = AC_GRAY_ALPHA; out->channels = 2; break;
    case PNG_COLOR_TYPE_RGB: out->color = AC_RGB; out->channels = 3; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: out->color = AC_RGBA; out->channels = 4; break;
    case PNG_COLOR_TYPE_PALETTE: {
        out->color = AC_PALETTE; out->channels = 1;
        if (depth < 8) png_set_packing(png);
        png_colorp palette; int count = 0;
        if (png_get_PLTE(png, info, &palette, &count) && count > 0) {
            if (count > 256) count = 256;
            for (int i = 0; i < count; i++) {
                out->palette[3 * i] = palette[i].red;
                out->palette[3 * i + 1] = palette[i].green;
                out->palette[3 * i + 2] = palette[i].blue;
            }
            out->palette_size = count;
        } else png_error(png, "palette image without a palette");
        break;
    }
    default: png_error(png, "unknown color type");
    }
    out->bit_depth = depth == 16 ? 16 : 8;
    if (depth == 16) png_set_swap(png); // host order (little-endian)
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t stride = png_get_rowbytes(png, info);
    size_t expected = (size_t)width * (size_t)out->channels * (size_t)(out->bit_depth / 8);
    if (stride != expected) png_error(png, "unexpected row layout");
    pixels = malloc(stride * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = (png_bytep)pixels + stride * y;
    png_read_image(png, rows);
    // No png_read_end: like Pillow, chunks after the image data are not needed.
    png_destroy_read_struct(&png, &info, NULL);
    free((void *)rows);
    out->pixels = (uint8_t *)pixels;
    return 0;
}

// ---------------------------------------------------------------- PNG writing

int ac_write_png(const char *path, const uint8_t *rgb, int width, int height, char *error) {
    FILE *volatile file = fopen(path, "wb");
    if (!file) { snprintf(error, 256, "cannot open for writing"); return 1; }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, error, png_fail, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        if (png) png_destroy_write_struct(&png, info ? &info : NULL);
        fclose((FILE *)file);
        if (!error[0]) snprintf(error, 256, "cannot write PNG");
        return 1;
    }
    png_init_io(png, (FILE *)file);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)width * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose((FILE *)file) != 0) { snprintf(error, 256, "cannot finish writing"); return 1; }
    return 0;
}

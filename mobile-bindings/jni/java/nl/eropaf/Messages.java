package nl.eropaf;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Parser;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import nl.eropaf.proto.v1.ErrorCode;

/** Small helpers shared by the wrappers. */
final class Messages {
  private Messages() {}

  static <T> T parse(Parser<T> parser, byte[] bytes) {
    if (bytes == null) {
      return null;
    }
    try {
      return parser.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new EropafException(EropafException.Domain.ABI, ErrorCode.ERROR_CODE_DECODE_ERROR,
          "undecodable answer from the native library: " + e.getMessage(), null);
    }
  }

  static byte[] utf8(String s, String name) {
    return Objects.requireNonNull(s, name + " is null").getBytes(StandardCharsets.UTF_8);
  }

  static int limit(int limit) {
    if (limit < 0) {
      throw new EropafException(EropafException.Domain.ABI, ErrorCode.ERROR_CODE_INVALID_ARGUMENT,
          "limit must be 0 (all) or positive, got " + limit, "limit");
    }
    return limit;
  }
}

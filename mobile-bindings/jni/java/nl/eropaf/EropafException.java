package nl.eropaf;

import java.nio.charset.StandardCharsets;
import nl.eropaf.proto.v1.ErrorCode;

/**
 * Every failure of an eropaf call: where it came from ({@link #getDomain()}), what went wrong
 * ({@link #getCode()}, one list shared with C++, the C ABI and the wire) and, for bad input, which
 * field ({@link #getField()}, a dotted path such as "address.postcode"). The message is English.
 */
public final class EropafException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Where an error came from; the numbers are the C ABI's EROPAF_DOMAIN_*. */
  public enum Domain {
    NONE, // never on an exception
    ABI, // the call itself: closed handle, bad bytes, unknown enum value, wrong state
    STORE, // the device store: validation, permissions, storage
    SYNC; // enrollment and sync: network, server answers

    static Domain of(int n) {
      return n >= 0 && n < values().length ? values()[n] : ABI;
    }
  }

  private final Domain domain;
  private final int code;
  private final String field;

  EropafException(Domain domain, ErrorCode code, String message, String field) {
    this(domain, code.getNumber(), message, field);
  }

  private EropafException(Domain domain, int code, String message, String field) {
    super(message);
    this.domain = domain;
    this.code = code;
    this.field = field;
  }

  /** Called by the native layer: message and field arrive as UTF-8 bytes. */
  static EropafException fromNative(int domain, int code, byte[] message, byte[] field) {
    return new EropafException(
        Domain.of(domain),
        code,
        message == null ? "error" : new String(message, StandardCharsets.UTF_8),
        field == null ? null : new String(field, StandardCharsets.UTF_8));
  }

  public Domain getDomain() {
    return domain;
  }

  /** The code; {@code ErrorCode.UNRECOGNIZED} for a number newer than this jar. */
  public ErrorCode getCode() {
    ErrorCode c = ErrorCode.forNumber(code);
    return c == null ? ErrorCode.UNRECOGNIZED : c;
  }

  public int getCodeNumber() {
    return code;
  }

  /** The input field the error is about, or null. */
  public String getField() {
    return field;
  }

  @Override
  public String toString() {
    return "EropafException(" + domain + ", " + getCode() + (field == null ? "" : ", " + field)
        + "): " + getMessage();
  }
}

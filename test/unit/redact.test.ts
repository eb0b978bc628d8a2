import { REDACTED, redactLogValue, redactText, sanitizeError } from '../../lambdas/ingest/redact';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl';

describe('redact', () => {
  it('drops the query string of a presigned URL', () => {
    // Act
    const text = redactText('PUT http://127.0.0.1:9/_upload/u/1?X-Amz-Signature=abc123 failed');

    // Assert
    expect(text).toBe('PUT http://127.0.0.1:9/_upload/u/1 failed');
  });

  it('redacts bearer tokens and JWTs', () => {
    // Act
    const text = redactText(`Authorization: Bearer ${JWT} and ${JWT}`);

    // Assert
    expect(text).not.toContain(JWT);
    expect(text).toContain(`Bearer ${REDACTED}`);
  });

  it('redacts the signature of an S3 error', () => {
    // Act
    const text = redactText('<SignatureProvided>deadbeef</SignatureProvided>');

    // Assert
    expect(text).not.toContain('deadbeef');
  });

  it('redacts values of credential keys', () => {
    // Act
    const values = ['password', 'Authorization', 'clientSecret', 'refresh_token'].map((key) =>
      redactLogValue(key, 'secret-value'),
    );

    // Assert
    expect(values).toEqual([REDACTED, REDACTED, REDACTED, REDACTED]);
    expect(redactLogValue('key', 'file.csv')).toBe('file.csv');
  });

  it('copies an error without its other fields', () => {
    // Arrange
    const inner = Object.assign(new Error(`sent Bearer ${JWT}`), { code: 'ECONNRESET' });
    const outer = Object.assign(new Error('fetch failed', { cause: inner }), {
      headers: { Authorization: `Bearer ${JWT}` },
    });

    // Act
    const copy = sanitizeError(outer);

    // Assert
    expect(copy.message).toBe('fetch failed');
    expect(Object.keys(copy)).not.toContain('headers');
    expect((copy.cause as Error).message).not.toContain(JWT);
    expect((copy.cause as Error & { code?: string }).code).toBe('ECONNRESET');
  });
});

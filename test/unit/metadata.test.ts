import { InvalidMetadataError } from '../../lambdas/ingest/errors';
import { parseUserMetadata, USER_METADATA_NAMES } from '../../lambdas/ingest/metadata';

const KEY = 'coll/item/dem.tif';

/** Encodes a value as one RFC 2047 B encoded word, as S3 returns non-ASCII metadata. */
function base64Word(value: string): string {
  return `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

describe('metadata', () => {
  describe('USER_METADATA_NAMES', () => {
    it('lists every supported name', () => {
      // Assert
      expect(USER_METADATA_NAMES).toEqual([
        'title',
        'description',
        'roles',
        'proj-epsg',
        'gsd',
        'geoadmin-variant',
        'geoadmin-lang',
        'media-type',
        'asset-id',
      ]);
    });
  });

  describe('parseUserMetadata', () => {
    it('returns empty fields when metadata is undefined', () => {
      // Act
      const parsed = parseUserMetadata(undefined, KEY);

      // Assert
      expect(parsed).toEqual({ fields: {} });
    });

    it('maps every name to its asset field', () => {
      // Arrange
      const metadata = {
        title: 'Digital elevation model',
        description: 'swissALTI3D, 2 m',
        roles: 'data, visual',
        'proj-epsg': '2056',
        gsd: '2.5',
        'geoadmin-variant': 'komb',
        'geoadmin-lang': 'de',
        'media-type': 'image/tiff; application=geotiff',
        'asset-id': 'dem-2m.tif',
      };

      // Act
      const parsed = parseUserMetadata(metadata, KEY);

      // Assert
      expect(parsed).toEqual({
        fields: {
          title: 'Digital elevation model',
          description: 'swissALTI3D, 2 m',
          roles: ['data', 'visual'],
          'proj:epsg': 2056,
          gsd: 2.5,
          'geoadmin:variant': 'komb',
          'geoadmin:lang': 'de',
        },
        mediaType: 'image/tiff; application=geotiff',
        assetId: 'dem-2m.tif',
      });
    });

    it('ignores unknown names', () => {
      // Act
      const parsed = parseUserMetadata({ 'uploaded-by': 'pipeline', owner: '' }, KEY);

      // Assert
      expect(parsed).toEqual({ fields: {} });
    });

    it('reads names case-insensitively', () => {
      // Act
      const parsed = parseUserMetadata({ Title: 'DEM' }, KEY);

      // Assert
      expect(parsed.fields.title).toBe('DEM');
    });

    it('trims values', () => {
      // Act
      const parsed = parseUserMetadata({ title: '  DEM  ', 'proj-epsg': ' 2056 ' }, KEY);

      // Assert
      expect(parsed.fields.title).toBe('DEM');
      expect(parsed.fields['proj:epsg']).toBe(2056);
    });

    it('normalises the media type override', () => {
      // Act
      const parsed = parseUserMetadata(
        { 'media-type': 'IMAGE/TIFF;Profile=cloud-optimized;application=geotiff' },
        KEY,
      );

      // Assert
      expect(parsed.mediaType).toBe('image/tiff; application=geotiff; profile=cloud-optimized');
    });

    it('decodes a B encoded title', () => {
      // Act
      const parsed = parseUserMetadata({ title: base64Word('Höhenmodell – Zürich 🗻') }, KEY);

      // Assert
      expect(parsed.fields.title).toBe('Höhenmodell – Zürich 🗻');
    });

    it('decodes a Q encoded description', () => {
      // Act
      const parsed = parseUserMetadata(
        { description: '=?utf-8?q?Carte_de_l=27=C3=AEle_=3D_100=25?=' },
        KEY,
      );

      // Assert
      expect(parsed.fields.description).toBe("Carte de l'île = 100%");
    });

    it('joins adjacent encoded words and drops whitespace between them', () => {
      // Arrange
      const bytes = Buffer.from('Zürich', 'utf8');
      // The split falls inside the two bytes of "ü".
      const first = `=?UTF-8?B?${bytes.subarray(0, 2).toString('base64')}?=`;
      const second = `=?UTF-8?B?${bytes.subarray(2).toString('base64')}?=`;

      // Act
      const parsed = parseUserMetadata({ title: `${first} \t ${second}` }, KEY);

      // Assert
      expect(parsed.fields.title).toBe('Zürich');
    });

    it('keeps plain text around encoded words', () => {
      // Act
      const parsed = parseUserMetadata({ title: `DEM ${base64Word('Zürich')} 2024` }, KEY);

      // Assert
      expect(parsed.fields.title).toBe('DEM Zürich 2024');
    });

    it('decodes ISO-8859-1 encoded words', () => {
      // Act
      const parsed = parseUserMetadata({ title: '=?ISO-8859-1?Q?Z=FCrich?=' }, KEY);

      // Assert
      expect(parsed.fields.title).toBe('Zürich');
    });

    it('decodes encoded words in every field', () => {
      // Act
      const parsed = parseUserMetadata(
        { 'geoadmin-lang': base64Word('fr'), roles: base64Word('données, aperçu') },
        KEY,
      );

      // Assert
      expect(parsed.fields['geoadmin:lang']).toBe('fr');
      expect(parsed.fields.roles).toEqual(['données', 'aperçu']);
    });

    it.each([
      ['proj-epsg', '0'],
      ['proj-epsg', '-2056'],
      ['proj-epsg', '2056.0'],
      ['proj-epsg', 'EPSG:2056'],
      ['proj-epsg', '99999999999999999999'],
      ['gsd', '0'],
      ['gsd', '-1'],
      ['gsd', 'abc'],
      ['gsd', 'Infinity'],
      ['gsd', '0x10'],
      ['gsd', '1e400'],
      ['geoadmin-variant', 'komb-1'],
      ['geoadmin-variant', 'two  spaces'],
      ['geoadmin-lang', 'DE'],
      ['geoadmin-lang', 'es'],
      ['roles', 'data,,visual'],
      ['roles', 'data,'],
      ['media-type', 'image/webp'],
      ['title', '   '],
    ])('rejects %s %j', (name, value) => {
      // Act
      const act = () => parseUserMetadata({ [name]: value }, KEY);

      // Assert
      expect(act).toThrow(InvalidMetadataError);
      expect(act).toThrow(`- ${name} ${JSON.stringify(value)}: `);
    });

    it.each([
      ['gsd', '0.5', 0.5],
      ['gsd', '.5', 0.5],
      ['gsd', '2', 2],
      ['gsd', '1e-1', 0.1],
    ])('accepts %s %j', (name, value, expected) => {
      // Act
      const parsed = parseUserMetadata({ [name]: value }, KEY);

      // Assert
      expect(parsed.fields.gsd).toBe(expected);
    });

    it('accepts a variant with single spaces', () => {
      // Act
      const parsed = parseUserMetadata({ 'geoadmin-variant': 'komb 2024' }, KEY);

      // Assert
      expect(parsed.fields['geoadmin:variant']).toBe('komb 2024');
    });

    it('lists every invalid value in one error', () => {
      // Arrange
      const metadata = {
        title: 'Valid title',
        'proj-epsg': 'lv95',
        gsd: '-2',
        'geoadmin-variant': 'a_b',
        'geoadmin-lang': 'es',
        roles: 'data, ',
        description: '',
      };

      // Act
      const act = () => parseUserMetadata(metadata, KEY);

      // Assert
      expect(act).toThrow(
        'Invalid user metadata on object "coll/item/dem.tif":\n' +
          '- proj-epsg "lv95": must be a positive integer EPSG code, for example 2056\n' +
          '- gsd "-2": must be a number greater than 0, in metres\n' +
          '- geoadmin-variant "a_b": must be letters and digits, with single spaces between words\n' +
          '- geoadmin-lang "es": must be one of de, fr, it, rm, en\n' +
          '- roles "data,": must be a comma-separated list of roles without empty entries\n' +
          '- description "": must not be empty\n' +
          'Upload the object again with valid metadata values (x-amz-meta-<name> headers).',
      );
    });

    it('includes the media type error text', () => {
      // Act
      const act = () =>
        parseUserMetadata({ 'media-type': 'image/tiff; application="geotiff"' }, KEY);

      // Assert
      expect(act).toThrow(
        '- media-type "image/tiff; application=\\"geotiff\\"": Invalid media type ' +
          '"image/tiff; application="geotiff"": expected "type/subtype"',
      );
    });

    it('rejects an unsupported charset', () => {
      // Act
      const act = () => parseUserMetadata({ title: '=?KOI8-R?B?8NLJ18XU?=' }, KEY);

      // Assert
      expect(act).toThrow(InvalidMetadataError);
      expect(act).toThrow(
        '- title "=?KOI8-R?B?8NLJ18XU?=": uses the unsupported charset "koi8-r" in an RFC 2047 ' +
          'encoded word (supported: UTF-8, US-ASCII, ISO-8859-1)',
      );
    });

    it('rejects invalid UTF-8 bytes', () => {
      // Act
      const act = () => parseUserMetadata({ title: '=?UTF-8?Q?Z=FCrich?=' }, KEY);

      // Assert
      expect(act).toThrow(InvalidMetadataError);
      expect(act).toThrow('contains bytes that are not valid utf-8 in an RFC 2047 encoded word');
    });
  });
});

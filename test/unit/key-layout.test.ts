import { ConfigurationError, InvalidKeyError } from '../../lambdas/ingest/errors';
import {
  DEFAULT_KEY_LAYOUTS,
  parseKeyLayouts,
  resolveTarget,
} from '../../lambdas/ingest/key-layout';

describe('key-layout', () => {
  describe('parseKeyLayouts', () => {
    it('parses the default layouts in order', () => {
      // Act
      const layouts = parseKeyLayouts(DEFAULT_KEY_LAYOUTS);

      // Assert
      expect(layouts.map((layout) => layout.template)).toEqual([
        '{collection}/{item}/{asset}',
        '{collection}/{asset}',
      ]);
      expect(layouts[0].segments).toEqual([
        { kind: 'collection' },
        { kind: 'item' },
        { kind: 'asset' },
      ]);
    });

    it('parses wildcards and literals when present', () => {
      // Act
      const layouts = parseKeyLayouts(' incoming/*/{collection}/{item}/{asset} ');

      // Assert
      expect(layouts[0].segments).toEqual([
        { kind: 'literal', value: 'incoming' },
        { kind: 'wildcard' },
        { kind: 'collection' },
        { kind: 'item' },
        { kind: 'asset' },
      ]);
    });

    it.each([
      ['{item}/{asset}', 'needs exactly one {collection}, found 0'],
      ['{collection}/{collection}/{asset}', 'needs exactly one {collection}, found 2'],
      ['{collection}/{item}', 'needs exactly one {asset}, found 0'],
      ['{collection}/{asset}/{asset}', 'needs exactly one {asset}, found 2'],
      ['{asset}/{collection}', '{asset} must be the last segment'],
      ['{collection}/{item}/{item}/{asset}', 'allows at most one {item}, found 2'],
      ['{collection}//{asset}', 'empty segment'],
      ['/{collection}/{asset}', 'empty segment'],
      ['{collection}/{items}/{asset}', 'unknown segment "{items}"'],
      ['{collection}/a*/{asset}', 'unknown segment "a*"'],
    ])('rejects %s', (spec, problem) => {
      // Act
      const act = () => parseKeyLayouts(spec);

      // Assert
      expect(act).toThrow(ConfigurationError);
      expect(act).toThrow(`Invalid key layouts "${spec}": "${spec}": `);
      expect(act).toThrow(problem);
    });

    it('rejects an empty layout in the list', () => {
      // Act
      const act = () => parseKeyLayouts('{collection}/{asset},');

      // Assert
      expect(act).toThrow(ConfigurationError);
      expect(act).toThrow('"": the layout is empty');
    });

    it('rejects a duplicate layout', () => {
      // Act
      const act = () => parseKeyLayouts('{collection}/{asset},{collection}/{asset}');

      // Assert
      expect(act).toThrow(ConfigurationError);
      expect(act).toThrow(
        '"{collection}/{asset}": never used, because the earlier layout "{collection}/{asset}" ' +
          'matches every key it matches',
      );
    });

    it('rejects a layout that an earlier one shadows', () => {
      // Act
      const act = () =>
        parseKeyLayouts(
          '{collection}/*/{asset},{collection}/{item}/{asset},raw/{collection}/{asset}',
        );

      // Assert
      expect(act).toThrow(
        '"{collection}/{item}/{asset}": never used, because the earlier layout ' +
          '"{collection}/*/{asset}" matches every key it matches; "raw/{collection}/{asset}": never used',
      );
    });

    it('keeps a literal layout before a general one', () => {
      // Act
      const layouts = parseKeyLayouts('raw/{collection}/{asset},{collection}/{item}/{asset}');

      // Assert
      expect(layouts).toHaveLength(2);
    });

    it('reports every problem at once with an example', () => {
      // Act
      const act = () => parseKeyLayouts('{item}/{asset},{collection}');

      // Assert
      expect(act).toThrow(
        'Invalid key layouts "{item}/{asset},{collection}": "{item}/{asset}": needs exactly one ' +
          '{collection}, found 0; "{collection}": needs exactly one {asset}, found 0. Give a ' +
          'comma-separated list of /-separated templates made of {collection}, {item}, {asset}, * ' +
          'and literal segments, for example "{collection}/{item}/{asset},{collection}/{asset}".',
      );
    });
  });

  describe('resolveTarget', () => {
    const defaultLayouts = parseKeyLayouts(DEFAULT_KEY_LAYOUTS);

    it('returns an item asset when the key has three segments', () => {
      // Act
      const target = resolveTarget(
        'ch.swisstopo.swissalti3d/swissalti3d_2019_2600-1199/dem_2056_5728.tif',
        defaultLayouts,
      );

      // Assert
      expect(target).toEqual({
        collection: 'ch.swisstopo.swissalti3d',
        item: 'swissalti3d_2019_2600-1199',
        asset: 'dem_2056_5728.tif',
      });
    });

    it('returns a collection asset when the key has two segments', () => {
      // Act
      const target = resolveTarget('ch.swisstopo.places/places-2056.gpkg', defaultLayouts);

      // Assert
      expect(target).toEqual({ collection: 'ch.swisstopo.places', asset: 'places-2056.gpkg' });
      expect(target).not.toHaveProperty('item');
    });

    it('ignores wildcard segments and matches literals when configured', () => {
      // Arrange
      const layouts = parseKeyLayouts(
        'incoming/*/{collection}/{item}/{asset},{collection}/{asset}',
      );

      // Act
      const target = resolveTarget('incoming/Team A/coll/item/file.csv', layouts);

      // Assert
      expect(target).toEqual({ collection: 'coll', item: 'item', asset: 'file.csv' });
    });

    it.each([
      ['item', 'ch.swisstopo.places/../places.csv', '..'],
      ['item', 'ch.swisstopo.places/./places.csv', '.'],
      ['collection', '../places.csv', '..'],
    ])('rejects a dot segment as %s id', (kind, key, id) => {
      // Act
      const resolve = () => resolveTarget(key, defaultLayouts);

      // Assert
      expect(resolve).toThrow(InvalidKeyError);
      expect(resolve).toThrow(
        `Invalid ${kind} id "${id}" in object key "${key}": an id cannot be "." or "..", because URLs treat them as path steps.`,
      );
    });

    it('uses the override asset id when given', () => {
      // Act
      const target = resolveTarget('coll/item/Höhe.tif', defaultLayouts, 'hoehe.tif');

      // Assert
      expect(target).toEqual({ collection: 'coll', item: 'item', asset: 'hoehe.tif' });
    });

    it('lists each layout mismatch when no layout matches', () => {
      // Arrange
      const layouts = parseKeyLayouts('raw/{collection}/{asset},{collection}/{item}/{asset}');

      // Act
      const act = () => resolveTarget('a/b/c/d.tif', layouts);

      // Assert
      expect(act).toThrow(InvalidKeyError);
      expect(act).toThrow(
        'Object key "a/b/c/d.tif" matches no key layout ("raw/{collection}/{asset}": expects 3 ' +
          'segments, the key has 4; "{collection}/{item}/{asset}": expects 3 segments, the key ' +
          'has 4). Upload the object again under a key that matches one of the layouts.',
      );
    });

    it('names the literal segment that differs', () => {
      // Arrange
      const layouts = parseKeyLayouts('raw/{collection}/{asset}');

      // Act
      const act = () => resolveTarget('cooked/coll/file.tif', layouts);

      // Assert
      expect(act).toThrow('"raw/{collection}/{asset}": segment 1 is "cooked", expected "raw"');
    });

    it('rejects a key with one segment', () => {
      // Act
      const act = () => resolveTarget('file.tif', defaultLayouts);

      // Assert
      expect(act).toThrow(InvalidKeyError);
    });

    it('suggests a collection id when it has uppercase letters', () => {
      // Act
      const act = () => resolveTarget('Ch.Swisstopo.Demo/item/file.tif', defaultLayouts);

      // Assert
      expect(act).toThrow(InvalidKeyError);
      expect(act).toThrow(
        'Invalid collection id "Ch.Swisstopo.Demo" in object key "Ch.Swisstopo.Demo/item/file.tif": ' +
          'ids may contain only lowercase letters a-z, digits, "-", "_" and ".". Use a valid ' +
          'collection id in the key, for example "ch.swisstopo.demo".',
      );
    });

    it('rejects an item id with a space', () => {
      // Act
      const act = () => resolveTarget('coll/item 1/file.tif', defaultLayouts);

      // Assert
      expect(act).toThrow(InvalidKeyError);
      expect(act).toThrow('Invalid item id "item 1" in object key "coll/item 1/file.tif"');
      expect(act).toThrow('Use a valid item id in the key, for example "item-1".');
    });

    it('rejects an empty segment as an empty id', () => {
      // Act
      const act = () => resolveTarget('coll//file.tif', defaultLayouts);

      // Assert
      expect(act).toThrow(InvalidKeyError);
      expect(act).toThrow('Invalid item id "" (empty) in object key "coll//file.tif"');
    });

    it('suggests a valid asset id and the override when the name is invalid', () => {
      // Act
      const act = () => resolveTarget('coll/item/Höhe Modell+v2 (100%).tif', defaultLayouts);

      // Assert
      expect(act).toThrow(InvalidKeyError);
      expect(act).toThrow(
        'Invalid asset id "Höhe Modell+v2 (100%).tif" in object key ' +
          '"coll/item/Höhe Modell+v2 (100%).tif": ids may contain only lowercase letters a-z, ' +
          'digits, "-", "_" and ".". Rename the file to "hoehe-modell-v2-100.tif", or set the ' +
          '"asset-id" user metadata to a valid asset id.',
      );
    });

    it.each([
      ['Carte_Île-de-Saint-Pierre.PDF', 'carte_ile-de-saint-pierre.pdf'],
      ['Straße Ölberg.gpkg', 'strasse-oelberg.gpkg'],
      ['ÄÖÜ.csv', 'aeoeue.csv'],
      ['ﬁle.tif', 'file.tif'],
      ['🗺️ map.kml', 'map.kml'],
    ])('suggests a valid id for %s', (fileName, suggestion) => {
      // Act
      const act = () => resolveTarget(`coll/${fileName}`, defaultLayouts);

      // Assert
      expect(act).toThrow(`Rename the file to "${suggestion}"`);
    });

    it('names the extension rule when the extension is unknown', () => {
      // Act
      const act = () => resolveTarget('coll/item/file.webp', defaultLayouts);

      // Assert
      expect(act).toThrow(InvalidKeyError);
      expect(act).toThrow(
        'Invalid asset id "file.webp" in object key "coll/item/file.webp": an asset id must end ' +
          'in a file extension that the API accepts (.parquet, .zip, ',
      );
      expect(act).toThrow(
        'Rename the file to a valid asset id, or set the "asset-id" user metadata to a valid ' +
          'asset id.',
      );
    });

    it('rejects an asset id without extension', () => {
      // Act
      const act = () => resolveTarget('coll/item/readme', defaultLayouts);

      // Assert
      expect(act).toThrow(InvalidKeyError);
      expect(act).toThrow('Invalid asset id "readme" in object key "coll/item/readme"');
    });

    it('names both rules when the asset id breaks both', () => {
      // Act
      const act = () => resolveTarget('coll/item/File.WEBP', defaultLayouts);

      // Assert
      expect(act).toThrow(
        '"-", "_" and ".", and an asset id must end in a file extension that the API accepts',
      );
    });

    it('checks the override asset id like a key segment', () => {
      // Act
      const act = () => resolveTarget('coll/item/file.tif', defaultLayouts, 'File.tif');

      // Assert
      expect(act).toThrow(InvalidKeyError);
      expect(act).toThrow(
        'Invalid asset id "File.tif" from the "asset-id" user metadata of object ' +
          '"coll/item/file.tif": ids may contain only lowercase letters a-z, digits, "-", "_" ' +
          'and ".". Set the "asset-id" user metadata to "file.tif".',
      );
    });

    it('accepts an override when the key asset segment is invalid', () => {
      // Act
      const target = resolveTarget('coll/item/File (1).TIF', defaultLayouts, 'file-1.tif');

      // Assert
      expect(target.asset).toBe('file-1.tif');
    });
  });
});

-- Compress stored webhook payloads with LZ4 instead of the default pglz. Payloads are JSON
-- of 5 KB to 1.5 MB; pglz spends about 25 ms on a 1.6 MB push (2048 commits) where LZ4
-- spends a few, for a similar ratio on JSON (bench/RESULTS.md). Prisma's schema cannot
-- express a column's compression, so `prisma migrate diff` never reverts this.
-- Servers built without LZ4 keep pglz: the payload is stored either way.
DO $$
BEGIN
  ALTER TABLE "events" ALTER COLUMN "payload" SET COMPRESSION lz4;
EXCEPTION
  WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available on this server; events.payload stays pglz-compressed';
END
$$;

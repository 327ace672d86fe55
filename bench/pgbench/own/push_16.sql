-- push_16: pgbench weight 192
\if :l_push_16 = 0
SELECT max(value) FILTER (WHERE name = 'push_16_1') AS push_16_1, max(value) FILTER (WHERE name = 'push_16_2') AS push_16_2, max(value) FILTER (WHERE name = 'push_16_3') AS push_16_3, max(value) FILTER (WHERE name = 'push_16_4') AS push_16_4, max(value) FILTER (WHERE name = 'push_16_5') AS push_16_5, max(value) FILTER (WHERE name = 'push_16_6') AS push_16_6, max(value) FILTER (WHERE name = 'push_16_7') AS push_16_7, max(value) FILTER (WHERE name = 'push_16_8') AS push_16_8, max(value) FILTER (WHERE name = 'push_16_9') AS push_16_9, max(value) FILTER (WHERE name = 'push_16_10') AS push_16_10, max(value) FILTER (WHERE name = 'push_16_11') AS push_16_11, max(value) FILTER (WHERE name = 'push_16_12') AS push_16_12, max(value) FILTER (WHERE name = 'push_16_13') AS push_16_13, max(value) FILTER (WHERE name = 'push_16_14') AS push_16_14, max(value) FILTER (WHERE name = 'push_16_15') AS push_16_15 FROM pgbench_own \gset
\set l_push_16 1
\endif
\set r random(1, 437)
\set prid 900000000000 + :r
\set prnum 1000000 + :r
\set rvid 920000000000 + random(1, 1)
\set i random(1, 1)
\set isid 910000000000 + :i
\set isnum 1000000 + :i
\set upd random(0, 31535999)
BEGIN;
SELECT pg_advisory_xact_lock_shared(110421133061739);
WITH claim AS (INSERT INTO events (id, "repoId", "deliveryId", type, action, "senderGithubId", payload, processed, "processedAt", attempts, "receivedAt", "createdAt") VALUES ((gen_random_uuid()::text)::text, (:push_16_1)::text, (gen_random_uuid()::text)::text, (:push_16_2)::text, (NULL)::text, (1300922)::int8, (:push_16_3)::jsonb, true, (:push_16_4)::timestamp, 1, (:push_16_5)::timestamp, (:push_16_6)::timestamp) ON CONFLICT ("deliveryId") DO UPDATE SET processed = true, "processedAt" = EXCLUDED."processedAt", attempts = events.attempts + 1, "lastError" = NULL, payload = EXCLUDED.payload, "repoId" = EXCLUDED."repoId", type = EXCLUDED.type, action = EXCLUDED.action, "senderGithubId" = EXCLUDED."senderGithubId", "receivedAt" = EXCLUDED."receivedAt" WHERE events.processed = false RETURNING id), step0 AS (INSERT INTO commits (id, "repoId", sha, message, "authorId", "authorLogin", "authorName", "authorEmail", "authorIsBot", "filesChanged", "committedAt") SELECT u.id, (:push_16_7)::text, u.sha, u.message, COALESCE(u.author_id, (SELECT us.id FROM users us WHERE us."githubLogin" = u.login), (SELECT us.id FROM users us WHERE us.email = u.email), (SELECT ge."userId" FROM user_github_emails ge WHERE ge.email = lower(u.email))), u.login, u.name, u.email, u.bot, u.files, u.at FROM UNNEST(ARRAY(SELECT gen_random_uuid()::text FROM generate_series(1, 16))::text[], ARRAY(SELECT md5(random()::text) || left(md5(random()::text), 8) FROM generate_series(1, 16) ORDER BY 1)::text[], (:push_16_8)::text[]::text[], (:push_16_9)::text[]::text[], (:push_16_10)::text[]::text[], (:push_16_11)::text[]::text[], (:push_16_12)::text[]::text[], (:push_16_13)::bool[]::bool[], (:push_16_14)::int4[]::int4[], (:push_16_15)::timestamp[]::timestamp[]) AS u(id, sha, message, author_id, login, name, email, bot, files, at) CROSS JOIN claim ON CONFLICT ("repoId", sha) DO NOTHING RETURNING id) SELECT (SELECT id FROM claim), ARRAY[(SELECT count(*) FROM step0)]::int8[];
COMMIT;

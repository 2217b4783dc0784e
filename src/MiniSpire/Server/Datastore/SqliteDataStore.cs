using MiniSpire.Entries;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using MiniSpire.Server.Entries;

namespace MiniSpire.Server.Datastore;

/// <summary>
/// The server's durable state in SQLite (WAL, synchronous=FULL): every write is one transaction, committed
/// before the caller is answered, so a SIGKILL loses nothing that was acknowledged.
/// </summary>
internal sealed class SqliteDataStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS entries (
            id TEXT PRIMARY KEY,
            spiffe_id TEXT NOT NULL,
            parent_id TEXT NOT NULL,
            selectors_key TEXT NOT NULL,
            selectors TEXT NOT NULL,
            x509_svid_ttl INTEGER NOT NULL,
            jwt_svid_ttl INTEGER NOT NULL,
            dns_names TEXT NOT NULL,
            federates_with TEXT NOT NULL,
            admin INTEGER NOT NULL,
            downstream INTEGER NOT NULL,
            hint TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            revision_number INTEGER NOT NULL);
        CREATE UNIQUE INDEX IF NOT EXISTS entries_unique ON entries (parent_id, spiffe_id, selectors_key);
        CREATE INDEX IF NOT EXISTS entries_parent ON entries (parent_id);
        CREATE TABLE IF NOT EXISTS agents (
            spiffe_id TEXT PRIMARY KEY,
            attestation_type TEXT NOT NULL,
            serial_number TEXT NOT NULL,
            new_serial_number TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            selectors TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            banned INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS join_tokens (
            token TEXT PRIMARY KEY,
            expires_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS authorities (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            key_pkcs8 BLOB NOT NULL,
            certificate BLOB,
            not_before INTEGER NOT NULL,
            not_after INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS federated_bundles (
            trust_domain TEXT PRIMARY KEY,
            x509_authorities TEXT NOT NULL,
            jwks BLOB NOT NULL,
            sequence_number INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS meta (
            key TEXT PRIMARY KEY,
            value INTEGER NOT NULL);
        """;

    private readonly string _connectionString;

    private SqliteDataStore(string connectionString) => _connectionString = connectionString;

    public string DatabasePath { get; private init; } = string.Empty;

    /// <summary>
    /// Opens (creating when needed) <c>datastore.sqlite3</c> in <paramref name="dataDir"/> (created 0700 when
    /// missing; the server checks an existing one first, see <see cref="Platform.OwnerOnlyPaths"/>). The
    /// database file is created 0600 before SQLite opens it, so its <c>-wal</c> and <c>-shm</c> files, which
    /// SQLite creates with the database's mode, are 0600 from their first byte too: the CA keys are in the WAL.
    /// </summary>
    public static SqliteDataStore Open(string dataDir)
    {
        if (!Directory.Exists(dataDir))
        {
            Directory.CreateDirectory(dataDir, Platform.OwnerOnlyPaths.OwnerOnlyDirectory);
        }

        var path = Path.Combine(dataDir, "datastore.sqlite3");
        if (!File.Exists(path))
        {
            using var created = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.Write,
                UnixCreateMode = Platform.OwnerOnlyPaths.OwnerOnlyFile,
            });
        }

        File.SetUnixFileMode(path, Platform.OwnerOnlyPaths.OwnerOnlyFile);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        };
        var store = new SqliteDataStore(builder.ToString()) { DatabasePath = path };
        using var connection = store.OpenConnection();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA journal_mode=WAL;";
            pragma.ExecuteNonQuery();
        }

        using (var create = connection.CreateCommand())
        {
            create.CommandText = Schema;
            create.ExecuteNonQuery();
        }

        using (var columns = connection.CreateCommand())
        {
            // A datastore made before `agent ban` existed gets the column; its agents are not banned.
            columns.CommandText = "SELECT COUNT(*) FROM pragma_table_info('agents') WHERE name = 'banned'";
            if (Convert.ToInt64(columns.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
            {
                using var alter = connection.CreateCommand();
                alter.CommandText = "ALTER TABLE agents ADD COLUMN banned INTEGER NOT NULL DEFAULT 0";
                alter.ExecuteNonQuery();
            }
        }
        return store;
    }

    // ---- entries ----

    public async Task<RegistrationEntry> CreateEntryAsync(RegistrationEntry entry, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var tx = connection.BeginTransaction();
        await ThrowIfDuplicateAsync(connection, tx, entry, ct);
        await using (var insert = connection.CreateCommand())
        {
            insert.Transaction = tx;
            insert.CommandText = """
                INSERT INTO entries (id, spiffe_id, parent_id, selectors_key, selectors, x509_svid_ttl, jwt_svid_ttl, dns_names,
                    federates_with, admin, downstream, hint, expires_at, created_at, revision_number)
                VALUES ($id, $spiffe_id, $parent_id, $selectors_key, $selectors, $x509, $jwt, $dns, $fed, $admin, $downstream,
                    $hint, $expires_at, $created_at, $revision)
                """;
            BindEntry(insert, entry);
            await insert.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        return entry;
    }

    public async Task<RegistrationEntry?> UpdateEntryAsync(RegistrationEntry entry, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var tx = connection.BeginTransaction();
        var existing = await GetEntryAsync(connection, tx, entry.Id, ct);
        if (existing is null)
        {
            return null;
        }

        await ThrowIfDuplicateAsync(connection, tx, entry, ct);
        var updated = entry with { CreatedAt = existing.CreatedAt, RevisionNumber = existing.RevisionNumber + 1 };
        await using (var update = connection.CreateCommand())
        {
            update.Transaction = tx;
            update.CommandText = """
                UPDATE entries SET spiffe_id = $spiffe_id, parent_id = $parent_id, selectors_key = $selectors_key,
                    selectors = $selectors, x509_svid_ttl = $x509, jwt_svid_ttl = $jwt, dns_names = $dns,
                    federates_with = $fed, admin = $admin, downstream = $downstream, hint = $hint, expires_at = $expires_at,
                    created_at = $created_at, revision_number = $revision
                WHERE id = $id
                """;
            BindEntry(update, updated);
            await update.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        return updated;
    }

    public async Task<bool> DeleteEntryAsync(string id, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM entries WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    public async Task<RegistrationEntry?> GetEntryAsync(string id, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        return await GetEntryAsync(connection, null, id, ct);
    }

    public async Task<IReadOnlyList<RegistrationEntry>> ListEntriesAsync(CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM entries ORDER BY id";
        return await ReadEntriesAsync(command, ct);
    }

    // ---- join tokens ----

    /// <summary>Stores a join token and, when given, its node alias entry, in one transaction.</summary>
    public async Task CreateJoinTokenAsync(string token, long expiresAt, RegistrationEntry? aliasEntry, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var tx = connection.BeginTransaction();
        await using (var insert = connection.CreateCommand())
        {
            insert.Transaction = tx;
            insert.CommandText = "INSERT INTO join_tokens (token, expires_at) VALUES ($token, $expires_at)";
            insert.Parameters.AddWithValue("$token", token);
            insert.Parameters.AddWithValue("$expires_at", expiresAt);
            await insert.ExecuteNonQueryAsync(ct);
        }

        if (aliasEntry is not null)
        {
            await ThrowIfDuplicateAsync(connection, tx, aliasEntry, ct);
            await using var insertEntry = connection.CreateCommand();
            insertEntry.Transaction = tx;
            insertEntry.CommandText = """
                INSERT INTO entries (id, spiffe_id, parent_id, selectors_key, selectors, x509_svid_ttl, jwt_svid_ttl, dns_names,
                    federates_with, admin, downstream, hint, expires_at, created_at, revision_number)
                VALUES ($id, $spiffe_id, $parent_id, $selectors_key, $selectors, $x509, $jwt, $dns, $fed, $admin, $downstream,
                    $hint, $expires_at, $created_at, $revision)
                """;
            BindEntry(insertEntry, aliasEntry);
            await insertEntry.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// Spends a join token and records the agent attested with it, in one transaction: a token is used at most
    /// once, and an agent exists only if its token was spent.
    /// </summary>
    /// <summary>
    /// Spends <paramref name="token"/> and, only when it was valid, calls <paramref name="attest"/> (which signs
    /// the agent's SVID) and stores the agent it returns, all in one transaction.
    /// </summary>
    public async Task<JoinTokenOutcome> RedeemJoinTokenAsync(string token, long now, Func<AgentRecord> attest, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var tx = connection.BeginTransaction();
        long? expiresAt;
        await using (var select = connection.CreateCommand())
        {
            select.Transaction = tx;
            select.CommandText = "SELECT expires_at FROM join_tokens WHERE token = $token";
            select.Parameters.AddWithValue("$token", token);
            expiresAt = await select.ExecuteScalarAsync(ct) as long?;
        }

        if (expiresAt is null)
        {
            return JoinTokenOutcome.NotFound;
        }

        await using (var delete = connection.CreateCommand())
        {
            delete.Transaction = tx;
            delete.CommandText = "DELETE FROM join_tokens WHERE token = $token";
            delete.Parameters.AddWithValue("$token", token);
            await delete.ExecuteNonQueryAsync(ct);
        }

        if (expiresAt.Value <= now)
        {
            await tx.CommitAsync(ct);
            return JoinTokenOutcome.Expired;
        }

        await UpsertAgentAsync(connection, tx, attest(), ct);
        await tx.CommitAsync(ct);
        return JoinTokenOutcome.Redeemed;
    }

    public async Task<int> PruneJoinTokensAsync(long now, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM join_tokens WHERE expires_at <= $now";
        command.Parameters.AddWithValue("$now", now);
        return await command.ExecuteNonQueryAsync(ct);
    }

    // ---- agents ----

    public async Task<AgentRecord?> GetAgentAsync(string spiffeId, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM agents WHERE spiffe_id = $id";
        command.Parameters.AddWithValue("$id", spiffeId);
        var agents = await ReadAgentsAsync(command, ct);
        return agents.Count == 0 ? null : agents[0];
    }

    public async Task<IReadOnlyList<AgentRecord>> ListAgentsAsync(CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM agents ORDER BY spiffe_id";
        return await ReadAgentsAsync(command, ct);
    }

    public async Task UpsertAgentAsync(AgentRecord agent, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var tx = connection.BeginTransaction();
        await UpsertAgentAsync(connection, tx, agent, ct);
        await tx.CommitAsync(ct);
    }

    public async Task<bool> DeleteAgentAsync(string spiffeId, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM agents WHERE spiffe_id = $id";
        command.Parameters.AddWithValue("$id", spiffeId);
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Bans an agent as SPIRE's <c>agent ban</c>: kept, marked banned, its SVID serials forgotten.</summary>
    public async Task<bool> BanAgentAsync(string spiffeId, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE agents SET banned = 1, serial_number = '', new_serial_number = '' WHERE spiffe_id = $id";
        command.Parameters.AddWithValue("$id", spiffeId);
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    // ---- authorities ----

    public async Task<IReadOnlyList<AuthorityRecord>> ListAuthoritiesAsync(CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, kind, state, key_pkcs8, certificate, not_before, not_after FROM authorities ORDER BY not_before, id";
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<AuthorityRecord>();
        while (await reader.ReadAsync(ct))
        {
            result.Add(new AuthorityRecord(
                reader.GetString(0),
                Enum.Parse<AuthorityKind>(reader.GetString(1)),
                reader.GetString(2),
                (byte[])reader.GetValue(3),
                reader.IsDBNull(4) ? null : (byte[])reader.GetValue(4),
                reader.GetInt64(5),
                reader.GetInt64(6)));
        }

        return result;
    }

    /// <summary>Applies a rotation step at once: inserts, state changes and deletions, and bumps the bundle sequence.</summary>
    public async Task ApplyAuthorityChangesAsync(
        IEnumerable<AuthorityRecord> inserts, IEnumerable<(string Id, string State)> stateChanges, IEnumerable<string> deletions, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var tx = connection.BeginTransaction();
        foreach (var record in inserts)
        {
            await using var insert = connection.CreateCommand();
            insert.Transaction = tx;
            insert.CommandText = """
                INSERT INTO authorities (id, kind, state, key_pkcs8, certificate, not_before, not_after)
                VALUES ($id, $kind, $state, $key, $cert, $nb, $na)
                """;
            insert.Parameters.AddWithValue("$id", record.Id);
            insert.Parameters.AddWithValue("$kind", record.Kind.ToString());
            insert.Parameters.AddWithValue("$state", record.State);
            insert.Parameters.AddWithValue("$key", record.KeyPkcs8);
            insert.Parameters.AddWithValue("$cert", (object?)record.CertificateDer ?? DBNull.Value);
            insert.Parameters.AddWithValue("$nb", record.NotBefore);
            insert.Parameters.AddWithValue("$na", record.NotAfter);
            await insert.ExecuteNonQueryAsync(ct);
        }

        foreach (var (id, state) in stateChanges)
        {
            await using var update = connection.CreateCommand();
            update.Transaction = tx;
            update.CommandText = "UPDATE authorities SET state = $state WHERE id = $id";
            update.Parameters.AddWithValue("$id", id);
            update.Parameters.AddWithValue("$state", state);
            await update.ExecuteNonQueryAsync(ct);
        }

        foreach (var id in deletions)
        {
            await using var delete = connection.CreateCommand();
            delete.Transaction = tx;
            delete.CommandText = "DELETE FROM authorities WHERE id = $id";
            delete.Parameters.AddWithValue("$id", id);
            await delete.ExecuteNonQueryAsync(ct);
        }

        await using (var bump = connection.CreateCommand())
        {
            bump.Transaction = tx;
            bump.CommandText = """
                INSERT INTO meta (key, value) VALUES ('bundle_sequence', 1)
                ON CONFLICT(key) DO UPDATE SET value = value + 1
                """;
            await bump.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
    }

    public async Task<long> GetBundleSequenceAsync(CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT value FROM meta WHERE key = 'bundle_sequence'";
        return await command.ExecuteScalarAsync(ct) as long? ?? 0;
    }

    // ---- federated bundles ----

    public async Task<FederatedBundleRecord> SetFederatedBundleAsync(string trustDomain, IReadOnlyList<byte[]> x509, byte[] jwks, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var tx = connection.BeginTransaction();
        await using var upsert = connection.CreateCommand();
        upsert.Transaction = tx;
        upsert.CommandText = """
            INSERT INTO federated_bundles (trust_domain, x509_authorities, jwks, sequence_number) VALUES ($td, $x509, $jwks, 1)
            ON CONFLICT(trust_domain) DO UPDATE SET x509_authorities = $x509, jwks = $jwks, sequence_number = sequence_number + 1
            RETURNING sequence_number
            """;
        upsert.Parameters.AddWithValue("$td", trustDomain);
        upsert.Parameters.AddWithValue("$x509", JsonSerializer.Serialize(x509.Select(Convert.ToBase64String).ToArray()));
        upsert.Parameters.AddWithValue("$jwks", jwks);
        var sequence = (long)(await upsert.ExecuteScalarAsync(ct))!;
        await tx.CommitAsync(ct);
        return new FederatedBundleRecord(trustDomain, x509, jwks, sequence);
    }

    public async Task<bool> DeleteFederatedBundleAsync(string trustDomain, CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM federated_bundles WHERE trust_domain = $td";
        command.Parameters.AddWithValue("$td", trustDomain);
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    public async Task<IReadOnlyList<FederatedBundleRecord>> ListFederatedBundlesAsync(CancellationToken ct = default)
    {
        await using var connection = OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT trust_domain, x509_authorities, jwks, sequence_number FROM federated_bundles ORDER BY trust_domain";
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<FederatedBundleRecord>();
        while (await reader.ReadAsync(ct))
        {
            var x509 = JsonSerializer.Deserialize<string[]>(reader.GetString(1))!.Select(Convert.FromBase64String).ToList();
            result.Add(new FederatedBundleRecord(reader.GetString(0), x509, (byte[])reader.GetValue(2), reader.GetInt64(3)));
        }

        return result;
    }

    // ---- helpers ----

    private SqliteConnection OpenConnection()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    private static async Task ThrowIfDuplicateAsync(SqliteConnection connection, SqliteTransaction tx, RegistrationEntry entry, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = "SELECT id FROM entries WHERE parent_id = $parent AND spiffe_id = $spiffe AND selectors_key = $key AND id <> $id";
        command.Parameters.AddWithValue("$parent", entry.ParentId);
        command.Parameters.AddWithValue("$spiffe", entry.SpiffeId);
        command.Parameters.AddWithValue("$key", entry.SelectorsKey);
        command.Parameters.AddWithValue("$id", entry.Id);
        if (await command.ExecuteScalarAsync(ct) is string existing)
        {
            throw new DuplicateEntryException(existing);
        }
    }

    private static async Task<RegistrationEntry?> GetEntryAsync(SqliteConnection connection, SqliteTransaction? tx, string id, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = "SELECT * FROM entries WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        var entries = await ReadEntriesAsync(command, ct);
        return entries.Count == 0 ? null : entries[0];
    }

    private static void BindEntry(SqliteCommand command, RegistrationEntry entry)
    {
        command.Parameters.AddWithValue("$id", entry.Id);
        command.Parameters.AddWithValue("$spiffe_id", entry.SpiffeId);
        command.Parameters.AddWithValue("$parent_id", entry.ParentId);
        command.Parameters.AddWithValue("$selectors_key", entry.SelectorsKey);
        command.Parameters.AddWithValue("$selectors", JsonSerializer.Serialize(entry.Selectors.Select(s => s.ToString()).ToArray()));
        command.Parameters.AddWithValue("$x509", entry.X509SvidTtl);
        command.Parameters.AddWithValue("$jwt", entry.JwtSvidTtl);
        command.Parameters.AddWithValue("$dns", JsonSerializer.Serialize(entry.DnsNames.ToArray()));
        command.Parameters.AddWithValue("$fed", JsonSerializer.Serialize(entry.FederatesWith.ToArray()));
        command.Parameters.AddWithValue("$admin", entry.Admin ? 1 : 0);
        command.Parameters.AddWithValue("$downstream", entry.Downstream ? 1 : 0);
        command.Parameters.AddWithValue("$hint", entry.Hint);
        command.Parameters.AddWithValue("$expires_at", entry.ExpiresAt);
        command.Parameters.AddWithValue("$created_at", entry.CreatedAt);
        command.Parameters.AddWithValue("$revision", entry.RevisionNumber);
    }

    private static async Task<List<RegistrationEntry>> ReadEntriesAsync(SqliteCommand command, CancellationToken ct)
    {
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<RegistrationEntry>();
        while (await reader.ReadAsync(ct))
        {
            result.Add(new RegistrationEntry
            {
                Id = reader.GetString(reader.GetOrdinal("id")),
                SpiffeId = reader.GetString(reader.GetOrdinal("spiffe_id")),
                ParentId = reader.GetString(reader.GetOrdinal("parent_id")),
                Selectors = ParseSelectors(reader.GetString(reader.GetOrdinal("selectors"))),
                X509SvidTtl = reader.GetInt32(reader.GetOrdinal("x509_svid_ttl")),
                JwtSvidTtl = reader.GetInt32(reader.GetOrdinal("jwt_svid_ttl")),
                DnsNames = JsonSerializer.Deserialize<string[]>(reader.GetString(reader.GetOrdinal("dns_names"))) ?? [],
                FederatesWith = JsonSerializer.Deserialize<string[]>(reader.GetString(reader.GetOrdinal("federates_with"))) ?? [],
                Admin = reader.GetInt64(reader.GetOrdinal("admin")) != 0,
                Downstream = reader.GetInt64(reader.GetOrdinal("downstream")) != 0,
                Hint = reader.GetString(reader.GetOrdinal("hint")),
                ExpiresAt = reader.GetInt64(reader.GetOrdinal("expires_at")),
                CreatedAt = reader.GetInt64(reader.GetOrdinal("created_at")),
                RevisionNumber = reader.GetInt64(reader.GetOrdinal("revision_number")),
            });
        }

        return result;
    }

    private static async Task UpsertAgentAsync(SqliteConnection connection, SqliteTransaction tx, AgentRecord agent, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = """
            INSERT INTO agents (spiffe_id, attestation_type, serial_number, new_serial_number, expires_at, selectors, created_at)
            VALUES ($id, $type, $serial, $new_serial, $expires_at, $selectors, $created_at)
            ON CONFLICT(spiffe_id) DO UPDATE SET attestation_type = $type, serial_number = $serial,
                new_serial_number = $new_serial, expires_at = $expires_at, selectors = $selectors
            """;
        command.Parameters.AddWithValue("$id", agent.SpiffeId);
        command.Parameters.AddWithValue("$type", agent.AttestationType);
        command.Parameters.AddWithValue("$serial", agent.SerialNumber);
        command.Parameters.AddWithValue("$new_serial", agent.NewSerialNumber);
        command.Parameters.AddWithValue("$expires_at", agent.ExpiresAt);
        command.Parameters.AddWithValue("$selectors", JsonSerializer.Serialize(agent.Selectors.Select(s => s.ToString()).ToArray()));
        command.Parameters.AddWithValue("$created_at", agent.CreatedAt);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<List<AgentRecord>> ReadAgentsAsync(SqliteCommand command, CancellationToken ct)
    {
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<AgentRecord>();
        while (await reader.ReadAsync(ct))
        {
            result.Add(new AgentRecord
            {
                SpiffeId = reader.GetString(reader.GetOrdinal("spiffe_id")),
                AttestationType = reader.GetString(reader.GetOrdinal("attestation_type")),
                SerialNumber = reader.GetString(reader.GetOrdinal("serial_number")),
                NewSerialNumber = reader.GetString(reader.GetOrdinal("new_serial_number")),
                ExpiresAt = reader.GetInt64(reader.GetOrdinal("expires_at")),
                Selectors = ParseSelectors(reader.GetString(reader.GetOrdinal("selectors"))),
                CreatedAt = reader.GetInt64(reader.GetOrdinal("created_at")),
                Banned = reader.GetInt64(reader.GetOrdinal("banned")) != 0,
            });
        }

        return result;
    }

    private static List<Selector> ParseSelectors(string json) =>
        (JsonSerializer.Deserialize<string[]>(json) ?? [])
            .Select(text => Selector.TryParse(text, out var selector, out _) ? selector : new Selector(text, string.Empty))
            .ToList();
}

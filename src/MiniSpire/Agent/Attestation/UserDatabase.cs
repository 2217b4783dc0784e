using System.Globalization;

namespace MiniSpire.Agent.Attestation;

/// <summary>
/// User and group names from <c>/etc/passwd</c> and <c>/etc/group</c>, read on each lookup so new users
/// are seen without a restart. Read directly rather than through NSS: what SPIRE's unix attestor sees on
/// a plain host, and no native interop.
/// </summary>
internal sealed class UserDatabase(string passwdPath = "/etc/passwd", string groupPath = "/etc/group")
{
    public string? UserName(uint uid) => Lookup(passwdPath, uid);

    public string? GroupName(uint gid) => Lookup(groupPath, gid);

    private static string? Lookup(string path, uint id)
    {
        IEnumerable<string> lines;
        try
        {
            lines = File.ReadLines(path);
            foreach (var line in lines)
            {
                // name:password:id:...
                var fields = line.Split(':');
                if (fields.Length > 2 && uint.TryParse(fields[2], CultureInfo.InvariantCulture, out var value) && value == id)
                {
                    return fields[0];
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }
}

using System.Net;
using System.Net.Sockets;

namespace Spiffe.WorkloadApi;

/// <summary>
/// Where the Workload API listens: a Unix domain socket or a TCP endpoint. Parsed from the forms
/// SPIFFE clients meet in practice: <c>unix:///abs/path.sock</c>, a bare absolute path (what the Go
/// spiffe-helper's users write), and <c>tcp://IP:port</c>.
/// </summary>
public sealed class WorkloadApiAddress
{
    /// <summary>The environment variable the SPIFFE Workload Endpoint standard names.</summary>
    public const string EndpointSocketVariable = "SPIFFE_ENDPOINT_SOCKET";

    /// <summary>The SPIRE agent's default socket.</summary>
    public const string DefaultSocketPath = "/tmp/spire-agent/public/api.sock";

    private WorkloadApiAddress(string? socketPath, IPEndPoint? tcpEndPoint, string text)
    {
        SocketPath = socketPath;
        TcpEndPoint = tcpEndPoint;
        Text = text;
    }

    /// <summary>The Unix socket path, or null for TCP.</summary>
    public string? SocketPath { get; }

    /// <summary>The TCP endpoint, or null for a Unix socket.</summary>
    public IPEndPoint? TcpEndPoint { get; }

    /// <summary>The address as given.</summary>
    public string Text { get; }

    /// <summary>The endpoint to connect a socket to.</summary>
    public EndPoint EndPoint => SocketPath is not null ? new UnixDomainSocketEndPoint(SocketPath) : TcpEndPoint!;

    /// <summary>
    /// The configured address if any, else <c>SPIFFE_ENDPOINT_SOCKET</c>, else <paramref name="fallback"/>.
    /// </summary>
    /// <exception cref="FormatException">The chosen address is malformed; the message says which source it came from.</exception>
    public static WorkloadApiAddress Resolve(string? configured, string? fallback = DefaultSocketPath)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Parse(configured);
        }

        var fromEnvironment = Environment.GetEnvironmentVariable(EndpointSocketVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return TryParse(fromEnvironment, out var address, out var error)
                ? address
                : throw new FormatException($"{EndpointSocketVariable}: {error}");
        }

        if (string.IsNullOrEmpty(fallback))
        {
            throw new FormatException($"no Workload API address is configured and {EndpointSocketVariable} is not set");
        }

        return Parse(fallback);
    }

    /// <summary>Parses an address.</summary>
    /// <exception cref="FormatException">The message says what is wrong and which forms are valid.</exception>
    public static WorkloadApiAddress Parse(string text) =>
        TryParse(text, out var address, out var error) ? address : throw new FormatException(error);

    /// <summary>Parses an address, returning what is wrong on failure.</summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out WorkloadApiAddress? address, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        address = null;
        const string validForms = "use unix:///absolute/path.sock, an absolute socket path, or tcp://<IP>:<port>";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = $"the Workload API address is empty; {validForms}";
            return false;
        }

        if (text.StartsWith('/'))
        {
            address = new WorkloadApiAddress(text, null, text);
            error = null;
            return true;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            error = $"\"{text}\" is not a valid Workload API address; {validForms}";
            return false;
        }

        switch (uri.Scheme)
        {
            case "unix":
                if (!text.StartsWith("unix:/", StringComparison.Ordinal))
                {
                    error = $"\"{text}\": a unix socket URI must not be opaque; {validForms}";
                }
                else if (text.StartsWith("unix://", StringComparison.Ordinal) && !text.StartsWith("unix:///", StringComparison.Ordinal))
                {
                    error = $"\"{text}\": a unix socket URI must not have an authority (write unix:///path, with three slashes)";
                }
                else if (uri.Query.Length > 0 || text.Contains('?', StringComparison.Ordinal))
                {
                    error = $"\"{text}\": a unix socket URI must not have a query";
                }
                else if (uri.Fragment.Length > 0 || text.Contains('#', StringComparison.Ordinal))
                {
                    error = $"\"{text}\": a unix socket URI must not have a fragment";
                }
                else if (uri.AbsolutePath is "" or "/")
                {
                    error = $"\"{text}\": a unix socket URI must include a path";
                }
                else
                {
                    address = new WorkloadApiAddress(Uri.UnescapeDataString(uri.AbsolutePath), null, text);
                    error = null;
                    return true;
                }

                return false;

            case "tcp":
                if (uri.UserInfo.Length > 0)
                {
                    error = $"\"{text}\": a tcp URI must not have user information";
                }
                else if (uri.AbsolutePath is not ("" or "/") || uri.Query.Length > 0 || uri.Fragment.Length > 0)
                {
                    error = $"\"{text}\": a tcp URI must not have a path, query or fragment";
                }
                else if (!IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip))
                {
                    error = $"\"{text}\": the host of a tcp URI must be an IP address, not \"{uri.Host}\"";
                }
                else if (uri.IsDefaultPort || uri.Port <= 0)
                {
                    error = $"\"{text}\": a tcp URI must include a port";
                }
                else
                {
                    address = new WorkloadApiAddress(null, new IPEndPoint(ip, uri.Port), text);
                    error = null;
                    return true;
                }

                return false;

            default:
                error = $"\"{text}\": the scheme must be \"unix\" or \"tcp\", not \"{uri.Scheme}\"; {validForms}";
                return false;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Text;
}

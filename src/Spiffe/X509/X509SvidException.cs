namespace Spiffe.X509;

/// <summary>An X509-SVID or X.509 bundle breaks a rule of the X509-SVID standard; the message names it.</summary>
public sealed class X509SvidException : Exception
{
    /// <summary>Creates the exception with the broken rule as its message.</summary>
    public X509SvidException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public X509SvidException()
    {
    }

    /// <summary>Creates the exception wrapping the cause.</summary>
    public X509SvidException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

namespace Spiffe.Jwt;

/// <summary>A JWT-SVID or JWT bundle breaks a rule of the JWT-SVID standard; the message names it.</summary>
public sealed class JwtSvidException : Exception
{
    /// <summary>Creates the exception with the broken rule as its message.</summary>
    public JwtSvidException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public JwtSvidException()
    {
    }

    /// <summary>Creates the exception wrapping the cause.</summary>
    public JwtSvidException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

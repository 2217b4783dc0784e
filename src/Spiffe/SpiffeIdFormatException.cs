namespace Spiffe;

/// <summary>A string is not a valid SPIFFE ID or trust domain; the message says which rule it broke.</summary>
public sealed class SpiffeIdFormatException : FormatException
{
    /// <summary>Creates the exception with the broken rule as its message.</summary>
    public SpiffeIdFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public SpiffeIdFormatException()
    {
    }

    /// <summary>Creates the exception wrapping another.</summary>
    public SpiffeIdFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
